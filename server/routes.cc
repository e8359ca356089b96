// The API's route table: every endpoint, its scope and its handler.
#include "server/router.h"

namespace portcullis::server {
namespace {

using namespace handlers;  // NOLINT: the table names every handler

constexpr Route kRoutes[] = {
    {"GET", "/healthz", Scope::kNone, &Healthz},
    {"GET", "/readyz", Scope::kNone, &Readyz},
    {"GET", "/metrics", Scope::kCheck, &MetricsText},
    {"POST", "/v1/check", Scope::kCheck, &Check},
    {"POST", "/v1/check/batch", Scope::kCheck, &CheckBatch},
    {"POST", "/v1/actions", Scope::kCheck, &Actions},
    {"POST", "/v1/lookup/resources", Scope::kCheck, &LookupResources},
    {"POST", "/v1/lookup/subjects", Scope::kCheck, &LookupSubjects},
    {"PUT", "/v1/resources/{type}/{id}", Scope::kAdmin, &PutResource},
    {"GET", "/v1/resources/{type}/{id}", Scope::kCheck, &GetResource},
    {"DELETE", "/v1/resources/{type}/{id}", Scope::kAdmin, &DeleteResource},
    {"PUT", "/v1/subjects/{type}/{id}", Scope::kAdmin, &PutSubject},
    {"GET", "/v1/subjects/{type}/{id}", Scope::kCheck, &GetSubject},
    {"DELETE", "/v1/subjects/{type}/{id}", Scope::kAdmin, &DeleteSubject},
    {"PUT", "/v1/bindings", Scope::kAdmin, &PutBinding},
    {"GET", "/v1/bindings", Scope::kCheck, &GetBindings},
    {"PUT", "/v1/restrictions", Scope::kAdmin, &PutRestriction},
    {"GET", "/v1/restrictions", Scope::kCheck, &GetRestrictions},
    {"GET", "/v1/changes", Scope::kCheck, &Changes},
    {"POST", "/v1/import", Scope::kAdmin, &Import},
    {"GET", "/v1/export", Scope::kAdmin, &Export},
    {"GET", "/v1/policy", Scope::kCheck, &GetPolicy},
    {"POST", "/v1/policy/validate", Scope::kAdmin, &ValidatePolicy},
    {"POST", "/v1/policy/reload", Scope::kAdmin, &ReloadPolicy},
    // Membership workflows.
    {"POST", "/v1/groups", Scope::kAdmin, &CreateGroup},
    {"POST", "/v1/groups/{id}/invitations", Scope::kAdmin, &InviteMembers},
    {"GET", "/v1/groups/{id}/invitations", Scope::kCheck,
     &ListGroupInvitations},
    {"GET", "/v1/subjects/{type}/{id}/invitations", Scope::kCheck,
     &ListSubjectInvitations},
    {"POST", "/v1/invitations/{id}/accept", Scope::kAdmin, &AcceptInvitation},
    {"POST", "/v1/invitations/{id}/decline", Scope::kAdmin, &DeclineInvitation},
    {"DELETE", "/v1/invitations/{id}", Scope::kAdmin, &RevokeInvitation},
    {"PUT", "/v1/groups/{id}/members/{subject}", Scope::kAdmin, &PutMember},
    {"DELETE", "/v1/groups/{id}/members/{subject}", Scope::kAdmin,
     &DeleteMember},
    {"PUT", "/v1/permissions", Scope::kAdmin, &PutPermissions},
    {"PUT", "/v1/accounts/{id}/administrators/{subject}", Scope::kAdmin,
     &PutAccountAdministrator},
    {"DELETE", "/v1/accounts/{id}/administrators/{subject}", Scope::kAdmin,
     &DeleteAccountAdministrator},
    {"DELETE", "/v1/accounts/{id}", Scope::kAdmin, &DeleteAccount},
    {"GET", "/v1/accounts/{id}/people", Scope::kCheck, &ListPeople},
    // OpenID AuthZEN Authorization API 1.0.
    {"POST", "/access/v1/evaluation", Scope::kCheck, &AuthzenEvaluation},
    {"POST", "/access/v1/evaluations", Scope::kCheck, &AuthzenEvaluations},
    {"POST", "/access/v1/search/subject", Scope::kCheck, &AuthzenSearchSubject},
    {"POST", "/access/v1/search/resource", Scope::kCheck,
     &AuthzenSearchResource},
    {"POST", "/access/v1/search/action", Scope::kCheck, &AuthzenSearchAction},
    {"GET", "/.well-known/authzen-configuration", Scope::kNone,
     &AuthzenConfiguration},
};

}  // namespace

std::span<const Route> Routes() { return kRoutes; }

}  // namespace portcullis::server
