#include "server/config.h"

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace portcullis::server {
namespace {

std::string Where(std::string_view name, const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  return std::string(name) + ":" + std::to_string(m.line + 1) + ":" +
         std::to_string(m.column + 1) + ": ";
}

Status Bad(std::string_view name, const YAML::Node& node, std::string msg,
           std::string field) {
  return Status::InvalidArgument(Where(name, node) + msg, std::move(field));
}

Status GetString(std::string_view name, const YAML::Node& v,
                 const std::string& key, std::string* out) {
  if (!v.IsScalar()) return Bad(name, v, key + " must be a string", key);
  *out = v.Scalar();
  return Status::Ok();
}

Status GetInt(std::string_view name, const YAML::Node& v,
              const std::string& key, int64_t min, int64_t* out) {
  if (!v.IsScalar()) return Bad(name, v, key + " must be an integer", key);
  const std::string& s = v.Scalar();
  int64_t x = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
  if (ec != std::errc() || end != s.data() + s.size() || x < min) {
    return Bad(name, v,
               key + " must be an integer >= " + std::to_string(min), key);
  }
  *out = x;
  return Status::Ok();
}

// Calls fn(key, value) per entry; rejects non-maps and duplicate keys.
template <typename Fn>
Status ForEachKey(std::string_view name, const YAML::Node& map,
                  const std::string& what, Fn&& fn) {
  if (!map.IsMap()) return Bad(name, map, what + " must be a mapping", what);
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (!seen.insert(key).second) {
      return Bad(name, it->first, "duplicate key '" + key + "'", key);
    }
    Status s = fn(key, it->first, it->second);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Status ParseConfigText(std::string_view text, std::string_view name,
                       ServeConfig* c) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(
        std::string(name) + ":" + std::to_string(e.mark.line + 1) + ":" +
            std::to_string(e.mark.column + 1) + ": " + e.msg,
        "config");
  }
  if (root.IsNull()) return Status::Ok();
  auto size_of = [&](const YAML::Node& v, const std::string& key, int64_t min,
                     size_t* out) {
    int64_t x = 0;
    Status s = GetInt(name, v, key, min, &x);
    if (s.ok()) *out = static_cast<size_t>(x);
    return s;
  };
  return ForEachKey(name, root, "the config", [&](const std::string& key,
                                                  const YAML::Node& k,
                                                  const YAML::Node& v) {
    if (key == "listen") {
      Status s = GetString(name, v, key, &c->listen);
      if (s.ok() && !ParseListen(c->listen)) {
        return Bad(name, v, "listen must be ADDRESS:PORT", key);
      }
      return s;
    }
    if (key == "data") return GetString(name, v, key, &c->data_dir);
    if (key == "source") return GetString(name, v, key, &c->source);
    if (key == "policy") return GetString(name, v, key, &c->policy_path);
    if (key == "tokens") return GetString(name, v, key, &c->tokens_file);
    if (key == "public_url") return GetString(name, v, key, &c->public_url);
    if (key == "page_token_key_file") {
      return GetString(name, v, key, &c->page_token_key_file);
    }
    if (key == "threads") {
      int64_t x = 0;
      Status s = GetInt(name, v, key, 1, &x);
      c->threads = static_cast<int>(std::min<int64_t>(x, 256));
      return s;
    }
    if (key == "decision_index") {
      if (!v.IsScalar() || (v.Scalar() != "true" && v.Scalar() != "false")) {
        return Bad(name, v, "decision_index must be true or false", key);
      }
      c->decision_index = v.Scalar() == "true";
      return Status::Ok();
    }
    if (key == "auth") {
      if (!v.IsScalar() || (v.Scalar() != "true" && v.Scalar() != "false")) {
        return Bad(name, v, "auth must be true or false", key);
      }
      c->auth = v.Scalar() == "true";
      return Status::Ok();
    }
    if (key == "limits") {
      return ForEachKey(name, v, key, [&](const std::string& lk,
                                          const YAML::Node& lkn,
                                          const YAML::Node& lv) {
        if (lk == "header_bytes") return size_of(lv, lk, 1024, &c->header_limit);
        if (lk == "body_bytes") return size_of(lv, lk, 1024, &c->body_limit);
        if (lk == "import_body_bytes") {
          return size_of(lv, lk, 1024, &c->import_body_limit);
        }
        if (lk == "batch") return size_of(lv, lk, 1, &c->max_batch);
        if (lk == "page") return size_of(lv, lk, 1, &c->max_page);
        return Bad(name, lkn, "unknown key 'limits." + lk + "'", lk);
      });
    }
    if (key == "timeouts") {
      return ForEachKey(name, v, key, [&](const std::string& tk,
                                          const YAML::Node& tkn,
                                          const YAML::Node& tv) {
        if (tk == "read_ms") return GetInt(name, tv, tk, 1, &c->read_timeout_ms);
        if (tk == "write_ms") return GetInt(name, tv, tk, 1, &c->write_timeout_ms);
        if (tk == "idle_ms") return GetInt(name, tv, tk, 1, &c->idle_timeout_ms);
        if (tk == "long_poll_ms") return GetInt(name, tv, tk, 0, &c->long_poll_ms);
        if (tk == "revision_wait_ms") {
          return GetInt(name, tv, tk, 0, &c->revision_wait_ms);
        }
        if (tk == "invitation_sweep_ms") {
          return GetInt(name, tv, tk, 0, &c->invitation_sweep_ms);
        }
        return Bad(name, tkn, "unknown key 'timeouts." + tk + "'", tk);
      });
    }
    if (key == "log") {
      return ForEachKey(name, v, key, [&](const std::string& gk,
                                          const YAML::Node& gkn,
                                          const YAML::Node& gv) {
        if (gk == "access") return GetString(name, gv, gk, &c->access_log);
        if (gk == "decisions") return GetString(name, gv, gk, &c->decision_log);
        return Bad(name, gkn, "unknown key 'log." + gk + "'", gk);
      });
    }
    return Bad(name, k, "unknown key '" + key + "'", key);
  });
}

Status LoadConfigFile(const std::string& path, ServeConfig* config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("cannot read config file " + path,
                                   "config");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfigText(ss.str(), path, config);
}

Result<ListenAddress> ParseListen(std::string_view text) {
  auto bad = [&] {
    return Fail(Status::InvalidArgument(
        "listen must be ADDRESS:PORT (e.g. 127.0.0.1:8181), got '" +
            std::string(text) + "'",
        "listen"));
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      value > 65535 || host.empty()) {
    return bad();
  }
  return ListenAddress{std::string(host), static_cast<uint16_t>(value)};
}

}  // namespace portcullis::server
