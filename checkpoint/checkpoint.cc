#include "checkpoint/checkpoint.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/core/canonical.h"
#include "segment/segment_format.h"
#include "wal/files.h"

namespace ron {

namespace {

using simdjson::dom::element;

void Key(std::string_view key, std::string* out) {
  out->push_back('"');
  out->append(key);
  out->append("\":");
}
void Str(std::string_view key, std::string_view value, std::string* out) {
  Key(key, out);
  AppendJsonString(value, out);
  out->push_back(',');
}
void Num(std::string_view key, uint64_t value, std::string* out) {
  Key(key, out);
  out->append(std::to_string(value));
  out->push_back(',');
}
void Hash(std::string_view key, const Digest& d, std::string* out) {
  Key(key, out);
  out->push_back('"');
  out->append(HashText(d));
  out->append("\",");
}
void Range(uint64_t first, uint64_t last, std::string* out) {
  Key("range", out);
  out->append("[" + std::to_string(first) + "," + std::to_string(last) + "],");
}
void Path(std::string_view key, const std::vector<Digest>& path, std::string* out) {
  Key(key, out);
  out->push_back('[');
  for (size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append("\"" + HashText(path[i]) + "\"");
  }
  out->append("],");
}
// Replaces the trailing comma with the closing brace.
void Close(std::string* out) {
  if (!out->empty() && out->back() == ',') out->pop_back();
  out->push_back('}');
}

void AppendBody(const Checkpoint& c, std::string* out) {
  out->append("{\"v\":1,");
  Str("writer_id", c.writer_id, out);
  Str("stream", c.stream, out);
  Range(c.first_seq, c.last_seq, out);
  Hash("root", c.root, out);
  Hash("head", c.head, out);
  Num("tree_size", c.tree_size, out);
  Hash("tree_root", c.tree_root, out);
  Str("prev_checkpoint", c.prev_checkpoint, out);
  Num("created_ts_ms", c.created_ts_ms, out);
  Str("signer_key_id", c.signer_key_id, out);
  Str("alg", c.alg, out);
}

void AppendCheckpoint(const Checkpoint& c, std::string* out) {
  AppendBody(c, out);
  Str("sig", c.sig, out);
  if (!c.cosigs.empty()) {
    Key("cosigs", out);
    out->push_back('[');
    for (size_t i = 0; i < c.cosigs.size(); ++i) {
      if (i > 0) out->push_back(',');
      out->push_back('{');
      Str("signer_key_id", c.cosigs[i].signer_key_id, out);
      Str("alg", c.cosigs[i].alg, out);
      Str("sig", c.cosigs[i].sig, out);
      Close(out);
    }
    out->append("],");
  }
  Close(out);
}

// ---- Parsing ------------------------------------------------------------------------------

Status Bad(std::string_view what, std::string_view key) {
  return Status(Code::kSchema, std::string(what) + ": bad or missing \"" + std::string(key) + "\"");
}

bool GetStr(element obj, std::string_view key, std::string* out) {
  std::string_view v;
  if (obj[key].get(v) != simdjson::SUCCESS) return false;
  out->assign(v);
  return true;
}
bool GetNum(element obj, std::string_view key, uint64_t* out) {
  return obj[key].get(*out) == simdjson::SUCCESS;
}
bool GetHash(element obj, std::string_view key, Digest* out) {
  std::string_view v;
  return obj[key].get(v) == simdjson::SUCCESS && ParseHashText(v, out);
}
bool GetRange(element obj, uint64_t* first, uint64_t* last) {
  simdjson::dom::array a;
  if (obj["range"].get(a) != simdjson::SUCCESS || a.size() != 2) return false;
  return a.at(0).get(*first) == simdjson::SUCCESS && a.at(1).get(*last) == simdjson::SUCCESS;
}
bool GetPath(element obj, std::string_view key, std::vector<Digest>* out) {
  simdjson::dom::array a;
  if (obj[key].get(a) != simdjson::SUCCESS || a.size() > 64) return false;
  out->clear();
  for (element e : a) {
    std::string_view v;
    Digest d;
    if (e.get(v) != simdjson::SUCCESS || !ParseHashText(v, &d)) return false;
    out->push_back(d);
  }
  return true;
}

Status CheckpointFrom(element e, Checkpoint* c) {
  constexpr std::string_view kWhat = "checkpoint";
  uint64_t v = 0;
  if (!GetNum(e, "v", &v) || v != 1) return Bad(kWhat, "v");
  if (!GetStr(e, "writer_id", &c->writer_id)) return Bad(kWhat, "writer_id");
  if (!GetStr(e, "stream", &c->stream)) return Bad(kWhat, "stream");
  if (!GetRange(e, &c->first_seq, &c->last_seq) || c->first_seq == 0 ||
      c->first_seq > c->last_seq) {
    return Bad(kWhat, "range");
  }
  if (!GetHash(e, "root", &c->root)) return Bad(kWhat, "root");
  if (!GetHash(e, "head", &c->head)) return Bad(kWhat, "head");
  if (!GetNum(e, "tree_size", &c->tree_size) || c->tree_size != c->last_seq) {
    return Bad(kWhat, "tree_size");
  }
  if (!GetHash(e, "tree_root", &c->tree_root)) return Bad(kWhat, "tree_root");
  if (!GetStr(e, "prev_checkpoint", &c->prev_checkpoint) || !IsValidPrev(c->prev_checkpoint)) {
    return Bad(kWhat, "prev_checkpoint");
  }
  if (!GetNum(e, "created_ts_ms", &c->created_ts_ms)) return Bad(kWhat, "created_ts_ms");
  if (!GetStr(e, "signer_key_id", &c->signer_key_id)) return Bad(kWhat, "signer_key_id");
  if (!GetStr(e, "alg", &c->alg) || (c->alg != kAlgEd25519 && c->alg != kAlgNone)) {
    return Bad(kWhat, "alg");
  }
  if (!GetStr(e, "sig", &c->sig)) return Bad(kWhat, "sig");
  c->cosigs.clear();
  simdjson::dom::array cosigs;
  if (e["cosigs"].get(cosigs) == simdjson::SUCCESS) {
    if (cosigs.size() == 0 || cosigs.size() > 16) return Bad(kWhat, "cosigs");
    for (element x : cosigs) {
      Cosignature s;
      if (!GetStr(x, "signer_key_id", &s.signer_key_id) || !GetStr(x, "alg", &s.alg) ||
          !GetStr(x, "sig", &s.sig)) {
        return Bad(kWhat, "cosigs");
      }
      c->cosigs.push_back(std::move(s));
    }
  }
  return Status::Ok();
}

Status SegmentFrom(element e, ManifestSegment* s) {
  constexpr std::string_view kWhat = "manifest segment";
  if (!GetStr(e, "file", &s->file)) return Bad(kWhat, "file");
  uint64_t no = 0;
  if (!segment::ParseSegmentFileName(s->file, &no)) return Bad(kWhat, "file");
  if (!GetNum(e, "offset", &s->offset)) return Bad(kWhat, "offset");
  if (!GetNum(e, "count", &s->count)) return Bad(kWhat, "count");
  if (!GetRange(e, &s->first_seq, &s->last_seq) || s->first_seq == 0 ||
      s->first_seq > s->last_seq || s->last_seq - s->first_seq + 1 != s->count) {
    return Bad(kWhat, "range");
  }
  if (!GetHash(e, "root", &s->root)) return Bad(kWhat, "root");
  return Status::Ok();
}

// Parses `json` into a DOM; documents of ours are small.
Status ParseDom(simdjson::dom::parser* parser, std::string_view json, std::string_view what,
                element* root) {
  if (json.size() > (1u << 20)) {
    return Status(Code::kRecordTooLarge, std::string(what) + " longer than 1 MiB");
  }
  if (parser->parse(json.data(), json.size()).get(*root) != simdjson::SUCCESS ||
      !root->is_object()) {
    return Status(Code::kSchema, std::string(what) + ": not a JSON object");
  }
  return Status::Ok();
}

Status Canonical(std::string_view input, const std::string& encoded, std::string_view what) {
  if (input != encoded) {
    return Status(Code::kSchema, std::string(what) +
                                     ": not in canonical form (key order, whitespace, escapes or "
                                     "unknown keys)");
  }
  return Status::Ok();
}

}  // namespace

std::string Checkpoint::SignedBody() const {
  std::string out;
  AppendBody(*this, &out);
  Close(&out);
  return out;
}

std::string Checkpoint::Json() const {
  std::string out;
  AppendCheckpoint(*this, &out);
  return out;
}

std::string Checkpoint::Id() const {
  const std::string body = SignedBody();
  return HashText(Blake3(body));
}

std::string Manifest::Json() const {
  std::string out = "{\"version\":1,";
  Str("stream", stream, &out);
  Str("writer_id", writer_id, &out);
  Key("segments", &out);
  out.push_back('[');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('{');
    Str("file", segments[i].file, &out);
    Num("offset", segments[i].offset, &out);
    Num("count", segments[i].count, &out);
    Range(segments[i].first_seq, segments[i].last_seq, &out);
    Hash("root", segments[i].root, &out);
    Close(&out);
  }
  out.append("],");
  Key("checkpoints", &out);
  out.push_back('[');
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendCheckpoint(checkpoints[i], &out);
  }
  out.append("],");
  Num("created_ts_ms", created_ts_ms, &out);
  Close(&out);
  return out;
}

std::string InclusionReceipt::Json() const {
  std::string out = "{\"v\":1,\"kind\":\"inclusion\",";
  Str("record", record, &out);
  Key("checkpoint", &out);
  AppendCheckpoint(checkpoint, &out);
  out.push_back(',');
  Num("range_index", range_index, &out);
  Path("range_path", range_path, &out);
  Num("tree_index", tree_index, &out);
  Path("tree_path", tree_path, &out);
  Close(&out);
  return out;
}

std::string ConsistencyReceipt::Json() const {
  std::string out = "{\"v\":1,\"kind\":\"consistency\",";
  Key("from", &out);
  AppendCheckpoint(from, &out);
  out.push_back(',');
  Key("to", &out);
  AppendCheckpoint(to, &out);
  out.push_back(',');
  Path("path", path, &out);
  Close(&out);
  return out;
}

Status ParseCheckpoint(std::string_view json, Checkpoint* out) {
  simdjson::dom::parser parser;
  element root;
  RON_RETURN_IF_ERROR(ParseDom(&parser, json, "checkpoint", &root));
  Checkpoint c;
  RON_RETURN_IF_ERROR(CheckpointFrom(root, &c));
  RON_RETURN_IF_ERROR(Canonical(json, c.Json(), "checkpoint"));
  *out = std::move(c);
  return Status::Ok();
}

Status ParseManifest(std::string_view json, Manifest* out) {
  simdjson::dom::parser parser;
  element root;
  RON_RETURN_IF_ERROR(ParseDom(&parser, json, "manifest", &root));
  Manifest m;
  uint64_t version = 0;
  if (!GetNum(root, "version", &version) || version != 1) return Bad("manifest", "version");
  if (!GetStr(root, "stream", &m.stream)) return Bad("manifest", "stream");
  if (!GetStr(root, "writer_id", &m.writer_id)) return Bad("manifest", "writer_id");
  simdjson::dom::array segments, checkpoints;
  if (root["segments"].get(segments) != simdjson::SUCCESS) return Bad("manifest", "segments");
  for (element e : segments) {
    ManifestSegment s;
    RON_RETURN_IF_ERROR(SegmentFrom(e, &s));
    m.segments.push_back(std::move(s));
  }
  if (root["checkpoints"].get(checkpoints) != simdjson::SUCCESS) {
    return Bad("manifest", "checkpoints");
  }
  for (element e : checkpoints) {
    Checkpoint c;
    RON_RETURN_IF_ERROR(CheckpointFrom(e, &c));
    m.checkpoints.push_back(std::move(c));
  }
  if (!GetNum(root, "created_ts_ms", &m.created_ts_ms)) return Bad("manifest", "created_ts_ms");
  RON_RETURN_IF_ERROR(Canonical(json, m.Json(), "manifest"));
  *out = std::move(m);
  return Status::Ok();
}

Status ParseReceipt(std::string_view json, std::string* kind, InclusionReceipt* inclusion,
                    ConsistencyReceipt* consistency) {
  simdjson::dom::parser parser;
  element root;
  RON_RETURN_IF_ERROR(ParseDom(&parser, json, "receipt", &root));
  uint64_t v = 0;
  if (!GetNum(root, "v", &v) || v != 1) return Bad("receipt", "v");
  if (!GetStr(root, "kind", kind)) return Bad("receipt", "kind");
  if (*kind == "inclusion") {
    InclusionReceipt r;
    element cp;
    if (!GetStr(root, "record", &r.record)) return Bad("receipt", "record");
    if (root["checkpoint"].get(cp) != simdjson::SUCCESS) return Bad("receipt", "checkpoint");
    RON_RETURN_IF_ERROR(CheckpointFrom(cp, &r.checkpoint));
    if (!GetNum(root, "range_index", &r.range_index)) return Bad("receipt", "range_index");
    if (!GetPath(root, "range_path", &r.range_path)) return Bad("receipt", "range_path");
    if (!GetNum(root, "tree_index", &r.tree_index)) return Bad("receipt", "tree_index");
    if (!GetPath(root, "tree_path", &r.tree_path)) return Bad("receipt", "tree_path");
    RON_RETURN_IF_ERROR(Canonical(json, r.Json(), "receipt"));
    *inclusion = std::move(r);
    return Status::Ok();
  }
  if (*kind == "consistency") {
    ConsistencyReceipt r;
    element from, to;
    if (root["from"].get(from) != simdjson::SUCCESS) return Bad("receipt", "from");
    RON_RETURN_IF_ERROR(CheckpointFrom(from, &r.from));
    if (root["to"].get(to) != simdjson::SUCCESS) return Bad("receipt", "to");
    RON_RETURN_IF_ERROR(CheckpointFrom(to, &r.to));
    if (!GetPath(root, "path", &r.path)) return Bad("receipt", "path");
    RON_RETURN_IF_ERROR(Canonical(json, r.Json(), "receipt"));
    *consistency = std::move(r);
    return Status::Ok();
  }
  return Bad("receipt", "kind");
}

std::string ManifestFileName(uint64_t last_seq) {
  char name[48];
  std::snprintf(name, sizeof(name), "manifest-%020llu.json",
                static_cast<unsigned long long>(last_seq));
  return name;
}

bool ParseManifestFileName(std::string_view name, uint64_t* last_seq) {
  constexpr std::string_view kPrefix = "manifest-", kSuffix = ".json";
  if (name.size() != kPrefix.size() + 20 + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix)) {
    return false;
  }
  uint64_t v = 0;
  for (char ch : name.substr(kPrefix.size(), 20)) {
    if (ch < '0' || ch > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(ch - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *last_seq = v;
  return v > 0;
}

std::string ExportStreamDir(const std::string& export_dir, const std::string& writer_id,
                            const std::string& stream) {
  return export_dir + "/" + segment::EscapePathComponent(writer_id) + "/" +
         segment::EscapePathComponent(stream);
}

Status ListExportStreams(const std::string& export_dir,
                         std::vector<std::pair<std::string, std::string>>* streams) {
  streams->clear();
  std::vector<std::string> writers;
  RON_RETURN_IF_ERROR(wal::ListDir(export_dir, &writers));
  // A directory, or not one of ours (a stray file); a link is refused, never followed.
  Status refused;
  const auto is_dir = [&refused](const std::string& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) return false;
    if (S_ISLNK(st.st_mode) && refused.ok()) {
      refused = Status(Code::kIo, path + " is a symbolic link; refusing to follow it");
    }
    return S_ISDIR(st.st_mode);
  };
  for (const std::string& w : writers) {
    std::string writer_id;
    if (!segment::UnescapePathComponent(w, &writer_id) ||
        !CheckName(writer_id, NameKind::kWriterId).ok() || !is_dir(export_dir + "/" + w)) {
      continue;  // not ours: the lock file, stray files
    }
    // A writer's directory that cannot be listed is an error: skipping it would hide the
    // checkpoints a WAL must not fall behind.
    std::vector<std::string> names;
    RON_RETURN_IF_ERROR(wal::ListDir(export_dir + "/" + w, &names));
    for (const std::string& s : names) {
      std::string stream;
      // A stray file (an editor's backup, .DS_Store) is no stream.
      if (is_dir(export_dir + "/" + w + "/" + s) && segment::UnescapePathComponent(s, &stream) &&
          CheckName(stream, NameKind::kStream).ok()) {
        streams->emplace_back(writer_id, stream);
      }
    }
  }
  return refused;
}

}  // namespace ron
