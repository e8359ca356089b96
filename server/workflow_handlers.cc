// The workflow endpoints of the native API (issue 5): HTTP to and from the
// membership rules (membership/membership.h). The actor comes from the JSON
// body of POST and PUT requests and from `?actor=` on GET and DELETE.
#include "common/clock.h"
#include "membership/membership.h"
#include "server/handlers.h"
#include "server/http_status.h"
#include "server/json.h"
#include "storage/attributes_json.h"

namespace portcullis::server {
namespace {

HttpResponse RevisionAnswer(storage::Revision revision) {
  HttpResponse r;
  r.body = "{\"revision\":\"" + std::to_string(revision) + "\"}";
  return r;
}

Result<std::string> QueryActor(const HttpRequest& request) {
  std::optional<std::string> actor = request.QueryParam("actor");
  if (!actor || actor->empty()) {
    return Fail(Status::InvalidArgument(
        "the query parameter actor is required (?actor=user:ID)", "actor"));
  }
  return *actor;
}

// Optional array of strings; nullopt when absent or null.
Result<std::optional<std::vector<std::string>>> OptionalStrings(
    const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return std::optional<std::vector<std::string>>();
  }
  if (!it->value.IsArray()) {
    return Fail(Status::InvalidArgument(
        std::string(name) + " must be an array of strings", name));
  }
  std::vector<std::string> out;
  for (const auto& e : it->value.GetArray()) {
    if (!e.IsString()) {
      return Fail(Status::InvalidArgument(
          std::string(name) + " must be an array of strings", name));
    }
    out.emplace_back(e.GetString(), e.GetStringLength());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::vector<std::string>> RequiredStrings(const rapidjson::Value& obj,
                                                 const char* name) {
  auto list = OptionalStrings(obj, name);
  if (!list) return Fail(list.error());
  if (!*list) {
    return Fail(
        Status::InvalidArgument(std::string(name) + " is required", name));
  }
  return std::move(**list);
}

Result<std::optional<storage::InvitationState>> StateParam(
    const HttpRequest& request) {
  std::optional<std::string> state = request.QueryParam("state");
  if (!state || state->empty()) {
    return std::optional<storage::InvitationState>();
  }
  std::optional<storage::InvitationState> parsed =
      storage::ParseInvitationState(*state);
  if (!parsed) {
    return Fail(Status::InvalidArgument(
        "state must be pending, accepted, declined, revoked or expired",
        "state"));
  }
  return parsed;
}

void WriteStrings(JsonWriter& w, const std::vector<std::string>& list) {
  w.StartArray();
  for (const std::string& s : list) w.String(s);
  w.EndArray();
}

// `show_id`: the id is a bearer secret (for an address, the id alone
// accepts), written only for the admin scope.
void WriteInvitation(JsonWriter& w, const storage::Invitation& inv,
                     bool show_id = true) {
  w.StartObject();
  if (show_id) {
    w.Key("id");
    w.String(inv.id);
  }
  w.Key("group");
  w.String(inv.resource);
  w.Key("invitee");
  w.String(inv.invitee);
  w.Key("roles");
  WriteStrings(w, inv.roles);
  w.Key("state");
  const std::string_view state = storage::InvitationStateName(inv.state);
  w.String(state.data(), state.size());
  w.Key("inviter");
  w.String(inv.inviter);
  if (!inv.message.empty()) {
    w.Key("message");
    w.String(inv.message);
  }
  w.Key("created_at");
  w.String(FormatRfc3339(inv.created_at));
  w.Key("expires_at");
  if (inv.expires_at == kNoExpiry) {
    w.Null();
  } else {
    w.String(FormatRfc3339(inv.expires_at));
  }
  w.EndObject();
}

HttpResponse InvitationListAnswer(const membership::InvitationList& list,
                                  Scope scope) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("invitations");
  w.StartArray();
  for (const storage::Invitation& inv : list.invitations) {
    WriteInvitation(w, inv, scope >= Scope::kAdmin);
  }
  w.EndArray();
  w.Key("revision");
  w.String(std::to_string(list.revision));
  w.EndObject();
  return JsonResponse(buf);
}

HttpResponse InvitationAnswer(const membership::InvitationResult& result) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("invitation");
  WriteInvitation(w, result.invitation);
  if (!result.subject.empty()) {
    w.Key("member");
    w.String(result.subject);
  }
  w.Key("revision");
  w.String(std::to_string(result.revision));
  w.EndObject();
  return JsonResponse(buf);
}

// The context of a workflow call: its decisions go to the decision log.
membership::WorkflowContext Workflow(const Call& call) {
  membership::WorkflowContext ctx{
      call.api.store, call.policy->policy.get(), NowMicros(), {}};
  ctx.on_decision =
      [&call](std::string_view actor, std::string_view action,
              std::string_view resource, const engine::Decision& decision,
              std::string_view reason_message, storage::Revision revision) {
        LogDecision(call, actor, action, resource, decision, reason_message,
                    revision);
      };
  return ctx;
}

HttpResponse AnswerInvitation(Call& call, bool accept) {
  if (call.api.store == nullptr) return NoStoreResponse();
  rapidjson::Document doc;
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  auto subject = RequiredString(doc, "subject", "subject");
  if (!subject) return ErrorResponse(subject.error());
  auto r = accept ? membership::AcceptInvitation(Workflow(call), call.params[0],
                                                 *subject)
                  : membership::DeclineInvitation(Workflow(call),
                                                  call.params[0], *subject);
  if (!r) return ErrorResponse(r.error());
  return InvitationAnswer(*r);
}

}  // namespace

namespace handlers {

HttpResponse CreateGroup(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  rapidjson::Document doc;
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  membership::CreateGroupRequest req;
  for (auto [name, target] :
       {std::pair{"actor", &req.actor}, std::pair{"account", &req.account},
        std::pair{"id", &req.id}}) {
    auto v = RequiredString(doc, name, name);
    if (!v) return ErrorResponse(v.error());
    target->assign(*v);
  }
  if (auto it = doc.FindMember("attributes");
      it != doc.MemberEnd() && !it->value.IsNull()) {
    s = storage::ParseAttributesJson(it->value, "attributes",
                                      &req.attributes);
    if (!s.ok()) return ErrorResponse(s);
  }
  auto r = membership::CreateGroup(Workflow(call), req);
  if (!r) return ErrorResponse(r.error());
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("group");
  w.String(r->group);
  w.Key("creator");
  w.String(req.actor);
  w.Key("roles");
  WriteStrings(w, r->roles);
  w.Key("revision");
  w.String(std::to_string(r->revision));
  w.EndObject();
  return JsonResponse(buf);
}

HttpResponse InviteMembers(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  rapidjson::Document doc;
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  membership::InviteRequest req;
  req.group = call.params[0];
  auto actor = RequiredString(doc, "actor", "actor");
  if (!actor) return ErrorResponse(actor.error());
  req.actor = std::string(*actor);
  auto invitees = RequiredStrings(doc, "invitees");
  if (!invitees) return ErrorResponse(invitees.error());
  req.invitees = std::move(*invitees);
  auto roles = RequiredStrings(doc, "roles");
  if (!roles) return ErrorResponse(roles.error());
  req.roles = std::move(*roles);
  auto message = OptionalString(doc, "message", "message");
  if (!message) return ErrorResponse(message.error());
  req.message = std::string(*message);
  if (auto it = doc.FindMember("expires_in");
      it != doc.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsInt64()) {
      return ErrorResponse(Status::InvalidArgument(
          "expires_in must be a whole number of seconds", "expires_in"));
    }
    req.expires_in_seconds = it->value.GetInt64();
  }
  auto r = membership::Invite(Workflow(call), req);
  if (!r) return ErrorResponse(r.error());
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("invitations");
  w.StartArray();
  for (const storage::Invitation& inv : r->invitations) WriteInvitation(w, inv);
  w.EndArray();
  w.Key("conflicts");
  w.StartArray();
  for (const membership::InviteConflict& c : r->conflicts) {
    w.StartObject();
    w.Key("invitee");
    w.String(c.invitee);
    w.Key("code");
    w.String(c.code);
    w.Key("message");
    w.String(c.message);
    w.EndObject();
  }
  w.EndArray();
  w.Key("revision");
  w.String(std::to_string(r->revision));
  w.EndObject();
  return JsonResponse(buf);
}

HttpResponse ListGroupInvitations(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  auto actor = QueryActor(call.request);
  if (!actor) return ErrorResponse(actor.error());
  auto state = StateParam(call.request);
  if (!state) return ErrorResponse(state.error());
  auto r = membership::ListGroupInvitations(Workflow(call), *actor,
                                            call.params[0], *state);
  if (!r) return ErrorResponse(r.error());
  return InvitationListAnswer(*r, call.scope);
}

HttpResponse ListSubjectInvitations(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  auto state = StateParam(call.request);
  if (!state) return ErrorResponse(state.error());
  auto r = membership::ListInvitationsFor(
      Workflow(call), call.params[0] + ":" + call.params[1], *state);
  if (!r) return ErrorResponse(r.error());
  return InvitationListAnswer(*r, call.scope);
}

HttpResponse AcceptInvitation(Call& call) {
  return AnswerInvitation(call, true);
}

HttpResponse DeclineInvitation(Call& call) {
  return AnswerInvitation(call, false);
}

HttpResponse RevokeInvitation(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  auto actor = QueryActor(call.request);
  if (!actor) return ErrorResponse(actor.error());
  auto r = membership::RevokeInvitation(Workflow(call), *actor, call.params[0]);
  if (!r) return ErrorResponse(r.error());
  return InvitationAnswer(*r);
}

HttpResponse PutMember(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  rapidjson::Document doc;
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  auto actor = RequiredString(doc, "actor", "actor");
  if (!actor) return ErrorResponse(actor.error());
  auto roles = RequiredStrings(doc, "roles");
  if (!roles) return ErrorResponse(roles.error());
  auto r = membership::SetMemberRoles(Workflow(call), *actor, call.params[0],
                                      call.params[1], *roles);
  if (!r) return ErrorResponse(r.error());
  return RevisionAnswer(*r);
}

HttpResponse DeleteMember(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  auto actor = QueryActor(call.request);
  if (!actor) return ErrorResponse(actor.error());
  auto r = membership::RemoveMember(Workflow(call), *actor, call.params[0],
                                    call.params[1]);
  if (!r) return ErrorResponse(r.error());
  return RevisionAnswer(*r);
}

HttpResponse PutPermissions(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  rapidjson::Document doc;
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  membership::FilePermissionRequest req;
  for (auto [name, target] :
       {std::pair{"actor", &req.actor}, std::pair{"subject", &req.subject},
        std::pair{"resource", &req.resource}}) {
    auto v = RequiredString(doc, name, name);
    if (!v) return ErrorResponse(v.error());
    target->assign(*v);
  }
  auto roles = OptionalStrings(doc, "roles");
  if (!roles) return ErrorResponse(roles.error());
  req.roles = std::move(*roles);
  auto restrict = OptionalStrings(doc, "restrict");
  if (!restrict) return ErrorResponse(restrict.error());
  req.restrict = std::move(*restrict);
  auto r = membership::SetFilePermissions(Workflow(call), req);
  if (!r) return ErrorResponse(r.error());
  return RevisionAnswer(*r);
}

HttpResponse PutAccountAdministrator(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  rapidjson::Document doc;
  Status s = ParseJsonObject(call.request.body, &doc);
  if (!s.ok()) return ErrorResponse(s);
  auto actor = RequiredString(doc, "actor", "actor");
  if (!actor) return ErrorResponse(actor.error());
  auto r = membership::AddAccountAdministrator(Workflow(call), *actor,
                                               call.params[0], call.params[1]);
  if (!r) return ErrorResponse(r.error());
  return RevisionAnswer(*r);
}

HttpResponse DeleteAccountAdministrator(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  auto actor = QueryActor(call.request);
  if (!actor) return ErrorResponse(actor.error());
  auto r = membership::RemoveAccountAdministrator(
      Workflow(call), *actor, call.params[0], call.params[1]);
  if (!r) return ErrorResponse(r.error());
  return RevisionAnswer(*r);
}

HttpResponse DeleteAccount(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  auto actor = QueryActor(call.request);
  if (!actor) return ErrorResponse(actor.error());
  auto r = membership::DeleteAccount(Workflow(call), *actor, call.params[0]);
  if (!r) return ErrorResponse(r.error());
  return RevisionAnswer(*r);
}

HttpResponse ListPeople(Call& call) {
  if (call.api.store == nullptr) return NoStoreResponse();
  auto actor = QueryActor(call.request);
  if (!actor) return ErrorResponse(actor.error());
  auto r = membership::ListPeople(Workflow(call), *actor, call.params[0]);
  if (!r) return ErrorResponse(r.error());
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("people");
  w.StartArray();
  for (const membership::Person& p : r->people) {
    w.StartObject();
    w.Key("subject");
    w.String(p.subject);
    w.Key("groups");
    w.StartArray();
    for (const membership::PersonMembership& m : p.memberships) {
      w.StartObject();
      w.Key("group");
      w.String(m.group);
      w.Key("roles");
      WriteStrings(w, m.roles);
      w.EndObject();
    }
    w.EndArray();
    // Everything else they hold in the account: roles on the account,
    // pending invitations' bindings, per-file raises and restrictions.
    w.Key("holdings");
    w.StartArray();
    for (const membership::PersonHolding& h : p.holdings) {
      w.StartObject();
      w.Key("resource");
      w.String(h.resource);
      if (!h.roles.empty()) {
        w.Key("roles");
        WriteStrings(w, h.roles);
        w.Key("state");
        w.String(h.pending ? "pending" : "active");
      }
      if (!h.restrict.empty()) {
        w.Key("restrict");
        WriteStrings(w, h.restrict);
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("revision");
  w.String(std::to_string(r->revision));
  w.EndObject();
  return JsonResponse(buf);
}

}  // namespace handlers
}  // namespace portcullis::server
