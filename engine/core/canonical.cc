// The full parser of the canonical form (Canonicalizer): any valid JSON text of a record, draft
// or sealed record, parsed with simdjson, NFC-normalized, checked against every field rule and
// bound, and rendered canonical. The writer, the one-pass reader, the splicing of a prepared
// draft's seq and prev and the ranking of rejected inputs live beside it (json_text.cc,
// canonical_reader.cc, canonical_splice.cc, json_errors.cc).
#include "engine/core/canonical.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <deque>
#include <vector>

#include "engine/core/canonical_rules.h"
#include "engine/core/check.h"
#include "engine/core/hash.h"
#include "engine/core/unicode.h"

namespace ron {

using namespace internal;  // NOLINT: the shared rules of canonical_rules.h
namespace dom = simdjson::dom;

// ---- The canonicalizer -------------------------------------------------------------------

class Canonicalizer::Impl {
 public:
  using DraftContext = Canonicalizer::DraftContext;
  explicit Impl(const Limits& limits) : limits_(limits) {
    // Every document up to kMaxInputBytes parses, however deeply nested: depth problems must be
    // reported by our field rules (Schema) after Float/Utf8, not by the parser.
    RON_CHECK(parser_.allocate(kMaxInputBytes + 1, kMaxInputBytes / 2 + 2) == simdjson::SUCCESS);
    sealed_scratch_.reserve(kMaxInputBytes + 1);
  }

  enum class Form { kUnsealed, kSealed, kDraft };
  // What one Parse reads and produces, passed explicitly down the builders.
  struct Mode {
    Form form = Form::kUnsealed;
    const DraftContext* draft = nullptr;  // REQUIRED for Form::kDraft: the assigned fields
    bool hash = true;                     // false: leave the digest empty (PrepareDraft)
  };

  Status Parse(std::string_view json, const Mode& mode, CanonicalRecord* out,
               Digest* stored_hash);
  // PrepareDraft's fast path (ReadDraft): true with `out` filled as Parse would fill it for a
  // draft (seq 1, prev b3:0, no digest; under Attrs::kLocate or kChain, as VerifySealed's);
  // false: not read here, take Parse.
  bool PreparePlainDraft(std::string_view draft, const DraftContext& ctx, CanonicalRecord* out,
                         Attrs attrs, bool* attrs_may_hold_address);
  // Writes a record's fields in canonical layout (strings escaped, attrs as given).
  void WriteRecord(const Record& r, std::string* out, size_t* attrs_bytes);
  // Reused by VerifySealed for the sealed text without its self_hash.
  std::string* sealed_scratch() { return &sealed_scratch_; }
  // Reused by VerifySealedMany.
  struct BatchScratch {
    Blake3Batch hasher;
    std::vector<Digest> stored, digests;
    std::vector<std::string_view> views;
    std::vector<size_t> hashed;  // which records the batch hashes
    std::vector<CanonicalRecord*> out;  // VerifySealedMany's records, by address
  };
  BatchScratch* batch() { return &batch_; }

 private:
  Status ParseDocument(std::string_view json, dom::element* root);
  Status BuildRecord(dom::element root, const Mode& mode, CanonicalRecord* out,
                     Digest* stored_hash);
  Status BuildFields(dom::object top, Form form, const DraftContext* draft, CanonicalRecord* out,
                     Digest* stored_hash);
  Status BuildDraftFields(const std::array<dom::element, kTopKeyCount>& fields, bool has_ts_ms,
                          const DraftContext& ctx, CanonicalRecord* out);
  Status BuildCommonFields(const std::array<dom::element, kTopKeyCount>& fields, Record* r);
  Status AssignName(std::string_view value, size_t max_bytes, const char* key, std::string* out);
  Status ReadUint(dom::element e, std::string_view key, uint64_t* value);
  // `prefix` + `key` name the field in an error (joined only then: this runs per field).
  Status ReadString(dom::element e, std::string_view key, std::string* value,
                    std::string_view prefix = {});
  Status BuildActor(dom::element e, Actor* actor);
  Status BuildSubject(dom::element e, Subject* subject);
  Status WriteValue(dom::element e, int depth, std::string* out);
  Status WriteObject(dom::object object, int depth, std::string* out);

  // Normalized keys of non-ASCII object keys live here while one record is built; a deque
  // never moves its elements, so views into them stay valid.
  std::string_view StoreKey(std::string_view normalized) {
    key_arena_.emplace_back(normalized);
    return key_arena_.back();
  }

  struct Entry {
    std::string_view key;  // NFC key
    dom::element value;
  };

  Limits limits_;
  dom::parser parser_;
  std::vector<Entry> entries_;  // a stack of object entries, one frame per open object
  std::deque<std::string> key_arena_;
  std::string nfc_scratch_;
  std::string attrs_scratch_;
  std::string sealed_scratch_;
  BatchScratch batch_;
  DraftScratch draft_scratch_;
  // The last names PreparePlainDraft assigned: as given, and as assigned (NFC).
  bool names_checked_ = false;  // the strings below hold a pair that passed
  std::string named_writer_id_, named_stream_, assigned_writer_id_, assigned_stream_;
  std::string names_text_;   // ,"writer_id":…,"seq":1,"stream":…,"kind":" with the last pair
  size_t names_seq_at_ = 0;  // where ,"seq":1 starts in names_text_
  std::string draft_attrs_;  // a draft's attrs, when ReadDraft renders them
};

bool ContainsDouble(dom::element e) {
  switch (e.type()) {
    case dom::element_type::DOUBLE:
      return true;
    case dom::element_type::ARRAY:
      for (dom::element child : dom::array(e)) {
        if (ContainsDouble(child)) return true;
      }
      return false;
    case dom::element_type::OBJECT:
      for (dom::key_value_pair field : dom::object(e)) {
        if (ContainsDouble(field.value)) return true;
      }
      return false;
    default:
      return false;
  }
}

Status Canonicalizer::Impl::ParseDocument(std::string_view json, dom::element* root) {
  if (parser_.parse(json.data(), json.size()).get(*root) == simdjson::SUCCESS) {
    return Status::Ok();
  }
  return RankRejectedJson(&parser_, json);
}

Status Canonicalizer::Impl::Parse(std::string_view json, const Mode& mode, CanonicalRecord* out,
                                  Digest* stored_hash) {
  // record.attrs holds them (a reused record may not); no seq hint
  out->attrs_at = out->attrs_bytes = out->seq_at = 0;
  if (json.size() > kMaxInputBytes) {
    return Status(Code::kRecordTooLarge, "input longer than 65536 bytes");
  }
  dom::element root;
  RON_RETURN_IF_ERROR(ParseDocument(json, &root));
  Status status = BuildRecord(root, mode, out, stored_hash);
  // A float anywhere outranks every field rule and bound.
  if (!status.ok() && status.code() != Code::kFloat && ContainsDouble(root)) {
    return Status(Code::kFloat, "number with fraction or exponent");
  }
  return status;
}

Status Canonicalizer::Impl::BuildRecord(dom::element root, const Mode& mode, CanonicalRecord* out,
                                        Digest* stored_hash) {
  dom::object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) {
    return Status(Code::kSchema, "record is not a JSON object");
  }
  key_arena_.clear();
  entries_.clear();
  RON_RETURN_IF_ERROR(BuildFields(top, mode.form, mode.draft, out, stored_hash));
  size_t attrs_bytes = 0;
  out->bytes.clear();
  WriteRecord(out->record, &out->bytes, &attrs_bytes);
  if (attrs_bytes > limits_.max_attrs_bytes) {
    return Status(Code::kAttrsTooLarge, "canonical attrs is " + std::to_string(attrs_bytes) +
                                            " bytes, limit " +
                                            std::to_string(limits_.max_attrs_bytes));
  }
  if (out->bytes.size() > limits_.max_record_bytes) {
    return Status(Code::kRecordTooLarge, "canonical record is " +
                                             std::to_string(out->bytes.size()) + " bytes, limit " +
                                             std::to_string(limits_.max_record_bytes));
  }
  // A prepared draft is hashed once its seq and prev are in (CompleteDraft).
  out->digest = mode.hash ? Blake3(out->bytes) : Digest{};
  return Status::Ok();
}

Status Canonicalizer::Impl::BuildFields(dom::object top, Form form, const DraftContext* draft,
                                        CanonicalRecord* out, Digest* stored_hash) {
  std::array<dom::element, kTopKeyCount> fields;
  // Which keys the input may carry and must carry, as bit masks over TopKey.
  constexpr uint32_t kAll = (1u << kTopKeyCount) - 1;
  constexpr uint32_t kAssigned =
      1u << kV | 1u << kWriterId | 1u << kSeq | 1u << kStream | 1u << kPrev | 1u << kSelfHash;
  const uint32_t allowed = form == Form::kSealed  ? kAll
                           : form == Form::kDraft ? kAll & ~kAssigned
                                                  : kAll & ~(1u << kSelfHash);
  const uint32_t required = form == Form::kDraft ? allowed & ~(1u << kTsMs) : allowed;
  uint32_t seen = 0;
  for (dom::key_value_pair field : top) {
    const int index = TopKeyIndex(field.key);
    if (index < 0 || !(allowed & (1u << index))) {
      return Status(Code::kSchema, "unknown top-level key");
    }
    if (seen & (1u << index)) {
      return Status(Code::kSchema, "duplicate key " + std::string(kTopKeyNames[index]));
    }
    seen |= 1u << index;
    fields[index] = field.value;
  }
  for (int i = 0; i < kTopKeyCount; ++i) {
    if ((required & (1u << i)) && !(seen & (1u << i))) {
      return Status(Code::kSchema, "missing key " + std::string(kTopKeyNames[i]));
    }
  }
  if (form == Form::kDraft) {
    RON_CHECK(draft != nullptr);
    return BuildDraftFields(fields, seen & (1u << kTsMs), *draft, out);
  }
  Record& r = out->record;
  RON_RETURN_IF_ERROR(ReadUint(fields[kV], "v", &r.v));
  if (r.v != kRecordVersion) return Status(Code::kSchema, "unsupported record version v");
  RON_RETURN_IF_ERROR(ReadUint(fields[kTsMs], "ts_ms", &r.ts_ms));
  RON_RETURN_IF_ERROR(ReadString(fields[kWriterId], "writer_id", &r.writer_id));
  if (!IsValidName(r.writer_id, kMaxWriterIdBytes)) {
    return Status(Code::kSchema, "writer_id must be 1..128 bytes without control characters");
  }
  RON_RETURN_IF_ERROR(ReadUint(fields[kSeq], "seq", &r.seq));
  if (r.seq == 0) return Status(Code::kSchema, "seq must be >= 1");
  RON_RETURN_IF_ERROR(ReadString(fields[kStream], "stream", &r.stream));
  if (!IsValidName(r.stream, kMaxStreamBytes)) {
    return Status(Code::kSchema, "stream must be 1..64 bytes without control characters");
  }
  RON_RETURN_IF_ERROR(BuildCommonFields(fields, &r));
  RON_RETURN_IF_ERROR(ReadString(fields[kPrev], "prev", &r.prev));
  if (!IsValidPrev(r.prev)) return Status(Code::kSchema, "prev must be b3:0 or b3:<64 hex>");
  if (form == Form::kSealed) {
    std::string_view text;
    if (fields[kSelfHash].get_string().get(text) != simdjson::SUCCESS ||
        !ParseHashText(text, stored_hash)) {
      return Status(Code::kSchema, "self_hash must be b3:<64 lowercase hex>");
    }
  }
  return Status::Ok();
}

// kind, actor, subject, reason, attrs: the fields every form carries, in canonical order.
Status Canonicalizer::Impl::BuildCommonFields(const std::array<dom::element, kTopKeyCount>& fields,
                                              Record* r) {
  RON_RETURN_IF_ERROR(ReadString(fields[kKind], "kind", &r->kind));
  if (!IsValidKind(r->kind)) {
    return Status(Code::kSchema, "kind must match [A-Za-z][A-Za-z0-9_.]{0,63}");
  }
  RON_RETURN_IF_ERROR(BuildActor(fields[kActor], &r->actor));
  RON_RETURN_IF_ERROR(BuildSubject(fields[kSubject], &r->subject));
  RON_RETURN_IF_ERROR(ReadString(fields[kReason], "reason", &r->reason));
  if (!IsValidReason(r->reason)) {
    return Status(Code::kSchema, "reason must match [A-Za-z0-9_.:-]{1,64}");
  }
  dom::object attrs;
  if (fields[kAttrs].get_object().get(attrs) != simdjson::SUCCESS) {
    return Status(Code::kSchema, "attrs must be an object");
  }
  attrs_scratch_.clear();
  RON_RETURN_IF_ERROR(WriteObject(attrs, 1, &attrs_scratch_));
  r->attrs.assign(attrs_scratch_);
  return Status::Ok();
}

bool Canonicalizer::Impl::PreparePlainDraft(std::string_view draft, const DraftContext& ctx,
                                            CanonicalRecord* out, Attrs attrs,
                                            bool* attrs_may_hold_address) {
  using std::string_view_literals::operator""sv;
  // The record is longer than its draft (the same keys and text, and more): one over the
  // bound is the full path's error to give, without reading it here first.
  if (draft.size() > limits_.max_record_bytes) return false;
  DraftFields d;
  if (!ReadDraft(draft, limits_, &draft_scratch_, &d, &draft_attrs_)) return false;
  // The names as BuildDraftFields assigns them; a name it would refuse is its error to give.
  // An engine names the same few over and over: the last pair assigned is remembered, and the
  // record's text from writer_id to kind's opening quote with them.
  if (!names_checked_ || ctx.writer_id != named_writer_id_ || ctx.stream != named_stream_) {
    names_checked_ = false;
    if (!AssignName(ctx.writer_id, kMaxWriterIdBytes, "writer_id", &assigned_writer_id_).ok() ||
        !AssignName(ctx.stream, kMaxStreamBytes, "stream", &assigned_stream_).ok()) {
      return false;
    }
    names_checked_ = true;
    named_writer_id_.assign(ctx.writer_id);
    named_stream_.assign(ctx.stream);
    names_text_.assign(",\"writer_id\":"sv);
    AppendJsonString(assigned_writer_id_, &names_text_);
    names_seq_at_ = names_text_.size();
    names_text_.append(",\"seq\":1,\"stream\":"sv);
    AppendJsonString(assigned_stream_, &names_text_);
    names_text_.append(",\"kind\":\""sv);
  }
  *attrs_may_hold_address = d.attrs_may_hold_address;
  const uint64_t ts_ms = d.has_ts_ms ? d.ts_ms : ctx.default_ts_ms;
  // WriteRecord's layout, the draft's strings written as read (their canonical text). The
  // pieces are laid out twice, measured and then copied into the record sized once (a
  // string append per piece was ~40 % of writing it).
  char v_text[24], ts_text[24];
  const std::string_view v(v_text, static_cast<size_t>(
                                       std::to_chars(v_text, v_text + 24, kRecordVersion).ptr -
                                       v_text));
  const std::string_view ts(
      ts_text, static_cast<size_t>(std::to_chars(ts_text, ts_text + 24, ts_ms).ptr - ts_text));
  const auto layout = [&](auto&& put, auto&& put_attrs) {
    put("{\"v\":"sv);
    put(v);
    put(",\"ts_ms\":"sv);
    put(ts);
    put(names_text_);
    put(d.kind);
    put("\",\"actor\":{"sv);
    std::string_view sep = ""sv;  // never a null view: each piece goes to memcpy
    if (d.anon) {
      put(*d.anon ? "\"anon\":true"sv : "\"anon\":false"sv);
      sep = ","sv;
    }
    const auto field = [&](std::string_view name, const std::optional<std::string_view>& raw) {
      if (!raw) return;
      put(sep);
      put(name);
      put(*raw);
      put("\""sv);
      sep = ","sv;
    };
    field("\"cap_id\":\""sv, d.actor[0]);
    field("\"key_fpr\":\""sv, d.actor[1]);
    field("\"passport_id\":\""sv, d.actor[2]);
    put("},\"subject\":{"sv);
    sep = ""sv;
    field("\"content_id\":\""sv, d.subject[0]);
    field("\"ledger_txid\":\""sv, d.subject[1]);
    field("\"name\":\""sv, d.subject[2]);
    put("},\"reason\":\""sv);
    put(d.reason);
    put("\",\"attrs\":"sv);
    put_attrs();
    put(",\"prev\":\""sv);
    put(kGenesisPrev);
    put("\"}"sv);
  };
  size_t size = 0;
  layout([&](std::string_view s) { size += s.size(); }, [&] { size += d.attrs.size(); });
  std::string& b = out->bytes;
  b.clear();
  b.resize(size);
  char* w = b.data();
  size_t attrs_at = 0;
  layout(
      [&](std::string_view s) {
        std::memcpy(w, s.data(), s.size());
        w += s.size();
      },
      [&] {
        attrs_at = static_cast<size_t>(w - b.data());
        w = WriteDraftAttrs(draft, d, draft_scratch_, w);
      });
  RON_CHECK(w == b.data() + b.size());
  // names_text_ follows {"v":<v>,"ts_ms":<ts>.
  out->seq_at = static_cast<uint32_t>(5 + v.size() + 9 + ts.size() + names_seq_at_);
  out->digest = Digest{};

  Record& r = out->record;
  r.v = kRecordVersion;
  r.ts_ms = ts_ms;
  r.writer_id = assigned_writer_id_;
  r.seq = 1;
  r.stream = assigned_stream_;
  r.kind.assign(d.kind);
  r.prev.assign(kGenesisPrev);
  if (attrs == Attrs::kChain) {
    r.actor = Actor();
    r.subject = Subject();
    r.reason.clear();
  } else {
    const auto text = [&](int bit, const std::optional<std::string_view>& raw,
                          std::optional<std::string>* to) {
      if (!raw) return to->reset();
      to->emplace();
      if (d.escaped & (1u << bit)) return DecodeJsonText(*raw, &**to);
      (*to)->assign(*raw);
    };
    r.actor.anon = d.anon;
    text(0, d.actor[0], &r.actor.cap_id);
    text(1, d.actor[1], &r.actor.key_fpr);
    text(2, d.actor[2], &r.actor.passport_id);
    text(3, d.subject[0], &r.subject.content_id);
    text(4, d.subject[1], &r.subject.ledger_txid);
    text(5, d.subject[2], &r.subject.name);
    r.reason.assign(d.reason);
  }
  if (attrs == Attrs::kCopy) {
    r.attrs.assign(b, attrs_at, d.attrs.size());
    out->attrs_at = out->attrs_bytes = 0;
  } else {
    r.attrs.clear();
    out->attrs_at = static_cast<uint32_t>(attrs_at);
    out->attrs_bytes = static_cast<uint32_t>(d.attrs.size());
  }
  return b.size() <= limits_.max_record_bytes;  // over: the full path's error
}

// A name the engine assigns (writer_id, stream): valid UTF-8, NFC, the length/control rule.
Status Canonicalizer::Impl::AssignName(std::string_view value, size_t max_bytes, const char* key,
                                       std::string* out) {
  std::string_view nfc;
  if (!IsValidUtf8(value) || !NfcNormalize(value, &nfc_scratch_, &nfc)) {
    return Status(Code::kUtf8, std::string(key) + " is not valid UTF-8");
  }
  if (!IsValidName(nfc, max_bytes)) {
    return Status(Code::kSchema, std::string(key) + " must be 1.." + std::to_string(max_bytes) +
                                     " bytes without control characters");
  }
  out->assign(nfc);
  return Status::Ok();
}

Status Canonicalizer::Impl::BuildDraftFields(const std::array<dom::element, kTopKeyCount>& fields,
                                             bool has_ts_ms, const DraftContext& ctx,
                                             CanonicalRecord* out) {
  Record& r = out->record;
  r.v = kRecordVersion;
  r.ts_ms = ctx.default_ts_ms;
  if (has_ts_ms) RON_RETURN_IF_ERROR(ReadUint(fields[kTsMs], "ts_ms", &r.ts_ms));
  RON_RETURN_IF_ERROR(AssignName(ctx.writer_id, kMaxWriterIdBytes, "writer_id", &r.writer_id));
  if (ctx.seq == 0) return Status(Code::kSchema, "seq must be >= 1");
  r.seq = ctx.seq;
  RON_RETURN_IF_ERROR(AssignName(ctx.stream, kMaxStreamBytes, "stream", &r.stream));
  RON_RETURN_IF_ERROR(BuildCommonFields(fields, &r));
  if (!IsValidPrev(ctx.prev)) return Status(Code::kSchema, "prev must be b3:0 or b3:<64 hex>");
  r.prev.assign(ctx.prev);
  return Status::Ok();
}

Status Canonicalizer::Impl::ReadUint(dom::element e, std::string_view key, uint64_t* value) {
  if (e.type() == dom::element_type::UINT64) {
    *value = e.get_uint64().value_unsafe();
    return Status::Ok();
  }
  if (e.type() == dom::element_type::INT64 && e.get_int64().value_unsafe() >= 0) {
    *value = static_cast<uint64_t>(e.get_int64().value_unsafe());
    return Status::Ok();
  }
  return Status(Code::kSchema, std::string(key) + " must be a non-negative integer");
}

Status Canonicalizer::Impl::ReadString(dom::element e, std::string_view key, std::string* value,
                                       std::string_view prefix) {
  std::string_view raw;
  if (e.get_string().get(raw) != simdjson::SUCCESS) {
    return Status(Code::kSchema, std::string(prefix) + std::string(key) + " must be a string");
  }
  std::string_view nfc;
  if (!NfcNormalize(raw, &nfc_scratch_, &nfc)) return Status(Code::kUtf8, "NFC failed");
  value->assign(nfc);
  return Status::Ok();
}

Status Canonicalizer::Impl::BuildActor(dom::element e, Actor* actor) {
  dom::object object;
  if (e.get_object().get(object) != simdjson::SUCCESS) {
    return Status(Code::kSchema, "actor must be an object");
  }
  *actor = Actor();
  uint32_t seen = 0;
  for (dom::key_value_pair field : object) {
    std::optional<std::string>* slot = nullptr;
    uint32_t bit = 0;
    if (field.key == "anon") {
      bit = 1;
    } else if (field.key == "cap_id") {
      slot = &actor->cap_id, bit = 2;
    } else if (field.key == "key_fpr") {
      slot = &actor->key_fpr, bit = 4;
    } else if (field.key == "passport_id") {
      slot = &actor->passport_id, bit = 8;
    } else {
      return Status(Code::kSchema, "unknown actor key");
    }
    if (seen & bit) return Status(Code::kSchema, "duplicate actor key");
    seen |= bit;
    if (slot == nullptr) {
      bool anon;
      if (field.value.get_bool().get(anon) != simdjson::SUCCESS) {
        return Status(Code::kSchema, "actor.anon must be a boolean");
      }
      actor->anon = anon;
      continue;
    }
    slot->emplace();
    RON_RETURN_IF_ERROR(ReadString(field.value, field.key, &**slot, "actor."));
  }
  return Status::Ok();
}

Status Canonicalizer::Impl::BuildSubject(dom::element e, Subject* subject) {
  dom::object object;
  if (e.get_object().get(object) != simdjson::SUCCESS) {
    return Status(Code::kSchema, "subject must be an object");
  }
  *subject = Subject();
  uint32_t seen = 0;
  for (dom::key_value_pair field : object) {
    std::optional<std::string>* slot = nullptr;
    uint32_t bit = 0;
    if (field.key == "content_id") {
      slot = &subject->content_id, bit = 1;
    } else if (field.key == "ledger_txid") {
      slot = &subject->ledger_txid, bit = 2;
    } else if (field.key == "name") {
      slot = &subject->name, bit = 4;
    } else {
      return Status(Code::kSchema, "unknown subject key");
    }
    if (seen & bit) return Status(Code::kSchema, "duplicate subject key");
    seen |= bit;
    slot->emplace();
    RON_RETURN_IF_ERROR(ReadString(field.value, field.key, &**slot, "subject."));
  }
  return Status::Ok();
}

Status Canonicalizer::Impl::WriteValue(dom::element e, int depth, std::string* out) {
  switch (e.type()) {
    case dom::element_type::OBJECT:
      return WriteObject(dom::object(e), depth, out);
    case dom::element_type::ARRAY: {
      if (depth > kMaxAttrsDepth) return Status(Code::kSchema, "attrs nested deeper than 8");
      out->push_back('[');
      bool first = true;
      for (dom::element child : dom::array(e)) {
        if (!first) out->push_back(',');
        first = false;
        RON_RETURN_IF_ERROR(WriteValue(child, depth + 1, out));
      }
      out->push_back(']');
      return Status::Ok();
    }
    case dom::element_type::INT64:
      AppendInt(e.get_int64().value_unsafe(), out);
      return Status::Ok();
    case dom::element_type::UINT64:
      AppendUint(e.get_uint64().value_unsafe(), out);
      return Status::Ok();
    case dom::element_type::DOUBLE:
      return Status(Code::kFloat, "number with fraction or exponent");
    case dom::element_type::STRING: {
      std::string_view nfc;
      if (!NfcNormalize(e.get_string().value_unsafe(), &nfc_scratch_, &nfc)) {
        return Status(Code::kUtf8, "NFC failed");
      }
      AppendJsonString(nfc, out);
      return Status::Ok();
    }
    case dom::element_type::BOOL:
      out->append(e.get_bool().value_unsafe() ? "true" : "false");
      return Status::Ok();
    case dom::element_type::NULL_VALUE:
      out->append("null");
      return Status::Ok();
  }
  return Status(Code::kSchema, "unknown JSON value type");
}

Status Canonicalizer::Impl::WriteObject(dom::object object, int depth, std::string* out) {
  if (depth > kMaxAttrsDepth) return Status(Code::kSchema, "attrs nested deeper than 8");
  const size_t frame_begin = entries_.size();
  for (dom::key_value_pair field : object) {
    std::string_view nfc;
    if (!NfcNormalize(field.key, &nfc_scratch_, &nfc)) return Status(Code::kUtf8, "NFC failed");
    if (nfc.data() == nfc_scratch_.data()) nfc = StoreKey(nfc);
    entries_.push_back(Entry{nfc, field.value});
  }
  const size_t frame_end = entries_.size();
  // std::string_view compares with char_traits<char>, i.e. as unsigned bytes: byte-wise order.
  std::sort(entries_.begin() + static_cast<ptrdiff_t>(frame_begin),
            entries_.begin() + static_cast<ptrdiff_t>(frame_end),
            [](const Entry& a, const Entry& b) { return a.key < b.key; });
  out->push_back('{');
  for (size_t i = frame_begin; i < frame_end; ++i) {
    if (i > frame_begin) {
      if (entries_[i].key == entries_[i - 1].key) {
        return Status(Code::kSchema, "duplicate key in attrs");
      }
      out->push_back(',');
    }
    AppendJsonString(entries_[i].key, out);
    out->push_back(':');
    // Children push their own frames above frame_end and pop them before returning, so
    // indexing (not iterators or references) stays valid across the recursion.
    RON_RETURN_IF_ERROR(WriteValue(entries_[i].value, depth + 1, out));
  }
  out->push_back('}');
  entries_.resize(frame_begin);
  return Status::Ok();
}

void Canonicalizer::Impl::WriteRecord(const Record& r, std::string* out, size_t* attrs_bytes) {
  using std::string_view_literals::operator""sv;  // literals without a strlen each
  // One allocation for the whole record: the keys, numbers and quotes take under 256 bytes;
  // escapes may still grow it.
  const auto optional_size = [](const std::optional<std::string>& v) {
    return v ? v->size() : 0;
  };
  out->reserve(out->size() + 256 + r.writer_id.size() + r.stream.size() + r.kind.size() +
               optional_size(r.actor.cap_id) + optional_size(r.actor.key_fpr) +
               optional_size(r.actor.passport_id) + optional_size(r.subject.content_id) +
               optional_size(r.subject.ledger_txid) + optional_size(r.subject.name) +
               r.reason.size() + r.attrs.size() + r.prev.size());
  out->append("{\"v\":"sv);
  AppendUint(r.v, out);
  out->append(",\"ts_ms\":"sv);
  AppendUint(r.ts_ms, out);
  out->append(",\"writer_id\":"sv);
  AppendJsonString(r.writer_id, out);
  out->append(",\"seq\":"sv);
  AppendUint(r.seq, out);
  out->append(",\"stream\":"sv);
  AppendJsonString(r.stream, out);
  out->append(",\"kind\":"sv);
  AppendJsonString(r.kind, out);
  // actor and subject keys are fixed sets, written in their byte-wise sorted order.
  out->append(",\"actor\":{"sv);
  std::string_view sep;
  if (r.actor.anon) {
    out->append(*r.actor.anon ? "\"anon\":true"sv : "\"anon\":false"sv);
    sep = ","sv;
  }
  const auto field = [&](std::string_view name, const std::optional<std::string>& value) {
    if (!value) return;
    out->append(sep);
    out->append(name);
    AppendJsonString(*value, out);
    sep = ","sv;
  };
  field("\"cap_id\":"sv, r.actor.cap_id);
  field("\"key_fpr\":"sv, r.actor.key_fpr);
  field("\"passport_id\":"sv, r.actor.passport_id);
  out->append("},\"subject\":{"sv);
  sep = {};
  field("\"content_id\":"sv, r.subject.content_id);
  field("\"ledger_txid\":"sv, r.subject.ledger_txid);
  field("\"name\":"sv, r.subject.name);
  out->append("},\"reason\":"sv);
  AppendJsonString(r.reason, out);
  out->append(",\"attrs\":"sv);
  out->append(r.attrs);
  *attrs_bytes = r.attrs.size();
  out->append(",\"prev\":"sv);
  AppendJsonString(r.prev, out);
  out->push_back('}');
}

// ---- Public surface ----------------------------------------------------------------------

Canonicalizer::Canonicalizer(const Limits& limits)
    : limits_(limits), impl_(std::make_unique<Impl>(limits)) {
  RON_CHECK(limits.Validate().ok());
}

Canonicalizer::~Canonicalizer() = default;

Status Canonicalizer::Canonicalize(std::string_view json, CanonicalRecord* out) {
  return impl_->Parse(json, {Impl::Form::kUnsealed}, out, nullptr);
}

namespace {

Status SelfHashMismatch() {
  return Status(Code::kHashMismatch, "self_hash does not match the canonical bytes");
}

}  // namespace

Status Canonicalizer::VerifySealed(std::string_view sealed, CanonicalRecord* out, Attrs attrs) {
  Digest stored;
  bool hash_pending = false;
  RON_RETURN_IF_ERROR(VerifySealedExceptHash(sealed, out, &stored, &hash_pending, attrs));
  if (hash_pending) {
    out->digest = Blake3(out->bytes);
    if (out->digest != stored) return SelfHashMismatch();
  }
  return Status::Ok();
}

void Canonicalizer::VerifySealedMany(std::span<const std::string_view> sealed,
                                     CanonicalRecord* out, Status* status, Attrs attrs) {
  std::vector<CanonicalRecord*>& at = impl_->batch()->out;
  at.resize(sealed.size());
  for (size_t i = 0; i < sealed.size(); ++i) at[i] = &out[i];
  VerifySealedMany(sealed, at.data(), status, attrs);
}

void Canonicalizer::VerifySealedMany(std::span<const std::string_view> sealed,
                                     CanonicalRecord* const* out, Status* status, Attrs attrs) {
  Impl::BatchScratch& b = *impl_->batch();
  b.stored.resize(sealed.size());
  b.views.clear();
  b.hashed.clear();
  for (size_t i = 0; i < sealed.size(); ++i) {
    bool hash_pending = false;
    status[i] = VerifySealedExceptHash(sealed[i], out[i], &b.stored[i], &hash_pending, attrs);
    if (hash_pending) {
      b.views.push_back(out[i]->bytes);
      b.hashed.push_back(i);
    }
  }
  b.digests.resize(b.views.size());
  b.hasher.Hash(b.views.data(), b.views.size(), b.digests.data());
  for (size_t k = 0; k < b.hashed.size(); ++k) {
    const size_t i = b.hashed[k];
    out[i]->digest = b.digests[k];
    if (out[i]->digest != b.stored[i]) status[i] = SelfHashMismatch();
  }
}

Status Canonicalizer::VerifySealedExceptHash(std::string_view sealed, CanonicalRecord* out,
                                             Digest* stored, bool* hash_pending, Attrs attrs) {
  *hash_pending = false;
  out->attrs_at = out->attrs_bytes = out->seq_at = 0;
  out->attrs_may_hold_address = true;
  if (sealed.size() > kMaxInputBytes) {
    return Status(Code::kRecordTooLarge, "input longer than 65536 bytes");
  }
  const size_t n = sealed.size();
  const bool canonical_suffix =
      n > kSealSuffixBytes && sealed.substr(n - kSealSuffixBytes, 14) == ",\"self_hash\":\"" &&
      sealed.substr(n - 2) == "\"}" &&
      ParseHashText(sealed.substr(n - kSealSuffixBytes + 14, kHashTextBytes), stored);
  if (!canonical_suffix) {
    // Not sealed in canonical shape: parse the whole text so the caller learns the most
    // important problem, and call it non-canonical if there is none.
    RON_RETURN_IF_ERROR(impl_->Parse(sealed, {Impl::Form::kSealed}, out, stored));
    return Status(Code::kSchema, "sealed record is not in canonical form");
  }
  // The text without self_hash, built once where the record keeps it.
  out->bytes.reserve(n - kSealSuffixBytes + 1);
  out->bytes.assign(sealed.substr(0, n - kSealSuffixBytes));
  out->bytes.push_back('}');
  if (ReadCanonicalInPlace(out, attrs)) {  // the common case: nothing to rewrite
    *hash_pending = true;
    return Status::Ok();
  }
  // Rare (non-ASCII text, ...): a copy, so that the scratch keeps its buffer and the record
  // its own size.
  std::string& candidate = *impl_->sealed_scratch();
  candidate.assign(out->bytes);  // Parse rewrites out->bytes
  RON_RETURN_IF_ERROR(impl_->Parse(candidate, {Impl::Form::kUnsealed}, out, nullptr));
  if (out->bytes != candidate) {
    return Status(Code::kSchema, "sealed record is not in canonical form");
  }
  if (out->digest != *stored) return SelfHashMismatch();
  return Status::Ok();
}

Status Canonicalizer::CanonicalizeDraft(std::string_view draft_json, const DraftContext& context,
                                        CanonicalRecord* out) {
  return impl_->Parse(draft_json, {Impl::Form::kDraft, &context, /*hash=*/true}, out, nullptr);
}

Status Canonicalizer::PrepareDraft(std::string_view draft_json, const DraftContext& context,
                                   CanonicalRecord* prepared, Attrs attrs) {
  if (draft_fast_path_ &&
      impl_->PreparePlainDraft(draft_json, context, prepared, attrs, &attrs_may_hold_address_)) {
    ++drafts_read_fast_;
    return Status::Ok();
  }
  attrs_may_hold_address_ = true;
  DraftContext stand_in = context;
  stand_in.seq = 1;
  stand_in.prev = kGenesisPrev;
  return impl_->Parse(draft_json, {Impl::Form::kDraft, &stand_in, /*hash=*/false}, prepared,
                      nullptr);
}

Status Canonicalizer::Encode(const Record& record, CanonicalRecord* out) {
  // Render the typed record as JSON text in the canonical layout and run it through the one
  // strict path, so a typed record can never be accepted under rules different from the text
  // form's (its strings may still need NFC, its attrs canonicalizing).
  std::string text;
  size_t attrs_bytes = 0;
  impl_->WriteRecord(record, &text, &attrs_bytes);
  return impl_->Parse(text, {Impl::Form::kUnsealed}, out, nullptr);
}

}  // namespace ron
