#include "bench/loadgen_core.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace portcullis::bench {

namespace {

Status LineError(size_t line, const std::string& msg,
                 const std::string& field = {}) {
  return Status::InvalidArgument(
      "mix line " + std::to_string(line) +
          (field.empty() ? "" : ", field \"" + field + "\"") + ": " + msg,
      field);
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(c >= 'A' && c <= 'Z')) return false;
  }
  return true;
}

bool IsCleanHeaderValue(std::string_view s) {
  return s.find_first_of("\r\n") == std::string_view::npos;
}

Result<RequestTemplate> ParseLine(std::string_view line, size_t lineno) {
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  if (doc.HasParseError()) {
    return tl::unexpected(LineError(
        lineno, std::string("invalid JSON at offset ") +
                    std::to_string(doc.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(doc.GetParseError())));
  }
  if (!doc.IsObject()) {
    return tl::unexpected(LineError(lineno, "expected a JSON object"));
  }
  RequestTemplate t;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    const std::string key(it->name.GetString(), it->name.GetStringLength());
    const auto& v = it->value;
    if (key == "name" || key == "method" || key == "path") {
      if (!v.IsString() || v.GetStringLength() == 0) {
        return tl::unexpected(
            LineError(lineno, "must be a non-empty string", key));
      }
      std::string s(v.GetString(), v.GetStringLength());
      if (key == "name") t.name = std::move(s);
      if (key == "method") t.method = std::move(s);
      if (key == "path") t.path = std::move(s);
    } else if (key == "body") {
      if (v.IsNull()) continue;
      t.has_body = true;
      if (v.IsString()) {
        t.body.assign(v.GetString(), v.GetStringLength());
      } else {
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        v.Accept(w);
        t.body.assign(buf.GetString(), buf.GetSize());
      }
    } else if (key == "weight") {
      if (!v.IsNumber() || !(v.GetDouble() > 0)) {
        return tl::unexpected(
            LineError(lineno, "must be a number above 0", key));
      }
      t.weight = v.GetDouble();
    } else if (key == "decisions") {
      if (!v.IsUint() || v.GetUint() == 0) {
        return tl::unexpected(
            LineError(lineno, "must be an integer of at least 1", key));
      }
      t.decisions = v.GetUint();
    } else {
      return tl::unexpected(LineError(lineno, "unknown field", key));
    }
  }
  if (t.name.empty()) return tl::unexpected(LineError(lineno, "missing", "name"));
  if (t.method.empty()) {
    return tl::unexpected(LineError(lineno, "missing", "method"));
  }
  if (t.path.empty()) return tl::unexpected(LineError(lineno, "missing", "path"));
  if (!IsToken(t.method)) {
    return tl::unexpected(
        LineError(lineno, "must be an upper-case HTTP method", "method"));
  }
  if (t.path[0] != '/' ||
      t.path.find_first_of(" \r\n\t") != std::string::npos) {
    return tl::unexpected(LineError(
        lineno, "must start with '/' and contain no whitespace", "path"));
  }
  return t;
}

}  // namespace

Result<std::vector<RequestTemplate>> ParseMix(std::string_view text) {
  std::vector<RequestTemplate> out;
  size_t lineno = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineno;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' ||
                             line.back() == '\t')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      line.remove_prefix(1);
    }
    if (line.empty() || line.front() == '#') continue;
    auto t = ParseLine(line, lineno);
    if (!t) return tl::unexpected(t.error());
    out.push_back(std::move(*t));
  }
  if (out.empty()) {
    return tl::unexpected(
        Status::InvalidArgument("mix holds no request template"));
  }
  return out;
}

Result<std::vector<RequestTemplate>> ReadMixFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return tl::unexpected(
        Status::InvalidArgument("cannot open mix file " + path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto mix = ParseMix(ss.str());
  if (!mix) {
    return tl::unexpected(Status::InvalidArgument(
        path + ": " + mix.error().message(), mix.error().field()));
  }
  return mix;
}

std::string BuildRawRequest(const RequestTemplate& t, std::string_view host,
                            std::string_view bearer_token) {
  std::string r;
  r.reserve(160 + t.path.size() + t.body.size() + bearer_token.size());
  r.append(t.method).append(" ").append(t.path).append(" HTTP/1.1\r\n");
  r.append("Host: ").append(host).append("\r\n");
  r.append("Connection: keep-alive\r\n");
  r.append("User-Agent: portcullis-loadgen\r\n");
  if (!bearer_token.empty() && IsCleanHeaderValue(bearer_token)) {
    r.append("Authorization: Bearer ").append(bearer_token).append("\r\n");
  }
  if (t.has_body) {
    r.append("Content-Type: application/json\r\n");
    r.append("Content-Length: ")
        .append(std::to_string(t.body.size()))
        .append("\r\n");
  } else if (t.method == "POST" || t.method == "PUT") {
    r.append("Content-Length: 0\r\n");
  }
  r.append("\r\n");
  r.append(t.body);
  return r;
}

WeightedPicker::WeightedPicker(const std::vector<RequestTemplate>& templates) {
  double total = 0;
  for (const auto& t : templates) total += t.weight;
  double acc = 0;
  for (const auto& t : templates) {
    acc += t.weight / total;
    cumulative_.push_back(acc);
  }
  if (!cumulative_.empty()) cumulative_.back() = 1.0;
}

size_t WeightedPicker::Pick(uint64_t random) const {
  if (cumulative_.size() <= 1) return 0;
  // 53 random bits -> [0, 1).
  const double u = static_cast<double>(random >> 11) * 0x1.0p-53;
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
  if (it == cumulative_.end()) --it;
  return static_cast<size_t>(it - cumulative_.begin());
}

void TemplateStats::Merge(const TemplateStats& other) {
  latency.Merge(other.latency);
  service.Merge(other.service);
  ok += other.ok;
  errors += other.errors;
  unsent += other.unsent;
  decisions += other.decisions;
  for (const auto& [k, n] : other.errors_by_kind) errors_by_kind[k] += n;
}

namespace {

using JsonWriter = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void WriteHistogram(JsonWriter& w, const LatencyHistogram& h) {
  w.StartObject();
  w.Key("count");
  w.Uint64(h.count());
  w.Key("min");
  w.Uint64(h.min());
  w.Key("mean");
  w.Double(h.mean());
  w.Key("p50");
  w.Uint64(h.ValueAtPercentile(50));
  w.Key("p90");
  w.Uint64(h.ValueAtPercentile(90));
  w.Key("p99");
  w.Uint64(h.ValueAtPercentile(99));
  w.Key("p99_9");
  w.Uint64(h.ValueAtPercentile(99.9));
  w.Key("max");
  w.Uint64(h.max());
  w.EndObject();
}

void WriteStats(JsonWriter& w, const TemplateStats& s, double duration_s) {
  const double d = duration_s > 0 ? duration_s : 1;
  w.Key("ok");
  w.Uint64(s.ok);
  w.Key("errors");
  w.Uint64(s.errors);
  w.Key("unsent");
  w.Uint64(s.unsent);
  w.Key("errors_by_kind");
  w.StartObject();
  for (const auto& [k, n] : s.errors_by_kind) {
    w.Key(k.c_str());
    w.Uint64(n);
  }
  w.EndObject();
  w.Key("throughput_rps");
  w.Double(static_cast<double>(s.ok + s.errors) / d);
  w.Key("ok_rps");
  w.Double(static_cast<double>(s.ok) / d);
  w.Key("decisions_per_s");
  w.Double(static_cast<double>(s.decisions) / d);
  w.Key("latency_ns");
  WriteHistogram(w, s.latency);
  w.Key("service_time_ns");
  WriteHistogram(w, s.service);
}

}  // namespace

NameIndex IndexNames(const std::vector<RequestTemplate>& templates) {
  NameIndex index;
  for (const auto& t : templates) {
    auto it = std::find(index.names.begin(), index.names.end(), t.name);
    if (it == index.names.end()) {
      index.names.push_back(t.name);
      it = index.names.end() - 1;
    }
    index.name_of_template.push_back(
        static_cast<size_t>(it - index.names.begin()));
  }
  return index;
}

std::string ResultJson(const RunInfo& info,
                       const std::vector<std::string>& names,
                       const std::vector<TemplateStats>& per_name) {
  TemplateStats total;
  for (const auto& s : per_name) total.Merge(s);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.SetMaxDecimalPlaces(3);
  w.StartObject();
  w.Key("tool");
  w.String("portcullis-loadgen");
  w.Key("label");
  w.String(info.label.c_str());
  w.Key("target");
  w.String(info.target.c_str());
  w.Key("mix_file");
  w.String(info.mix_file.c_str());
  w.Key("mode");
  w.String(info.open_loop ? "open" : "closed");
  w.Key("offered_rps");
  if (info.open_loop) {
    w.Double(info.offered_rps);
  } else {
    w.Null();
  }
  w.Key("connections");
  w.Int(info.connections);
  w.Key("threads");
  w.Int(info.threads);
  w.Key("cpus");
  w.StartArray();
  for (int c : info.cpus) w.Int(c);
  w.EndArray();
  w.Key("warmup_s");
  w.Double(info.warmup_s);
  w.Key("duration_s");
  w.Double(info.duration_s);
  w.Key("connect_failures");
  w.Uint64(info.connect_failures);
  WriteStats(w, total, info.duration_s);
  w.Key("per_name");
  w.StartArray();
  for (size_t i = 0; i < names.size() && i < per_name.size(); ++i) {
    w.StartObject();
    w.Key("name");
    w.String(names[i].c_str());
    WriteStats(w, per_name[i], info.duration_s);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace portcullis::bench
