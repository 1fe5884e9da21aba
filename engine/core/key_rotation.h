// The KeyRotated record: how a stream announces that its checkpoints are signed by a new key.
// Defined once here; the engine writes it and the verifier reads it, both as a record.
//
//   kind "KeyRotated", reason "key_rotation", actor {}, subject {},
//   attrs {"new_key_id": <new key id>, "old_key_id": <old key id>} (other attrs keys allowed)
//
// Thread-safety: pure functions.
#ifndef ENGINE_CORE_KEY_ROTATION_H_
#define ENGINE_CORE_KEY_ROTATION_H_

#include <string>
#include <string_view>

#include "ron_audit/record.h"

namespace ron {

inline constexpr std::string_view kKeyRotatedKind = "KeyRotated";
inline constexpr std::string_view kKeyRotationReason = "key_rotation";

// The draft the engine emits (Engine::Emit's input) for a rotation from `old_key_id` to
// `new_key_id`.
std::string KeyRotatedDraft(std::string_view old_key_id, std::string_view new_key_id);

// True when `record` is a KeyRotated record whose attrs hold the top-level string keys
// new_key_id (non-empty) and old_key_id; sets them. Keys nested deeper in attrs never count.
bool ParseKeyRotated(const Record& record, std::string* old_key_id, std::string* new_key_id);

// A cheap test on canonical record bytes: false means the record is certainly not KeyRotated
// (true means: parse it and ask ParseKeyRotated).
bool MayBeKeyRotated(std::string_view canonical_json);

}  // namespace ron

#endif  // ENGINE_CORE_KEY_ROTATION_H_
