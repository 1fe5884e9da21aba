// The checks `ronctl audit append` makes before it opens the engine, so that a run an
// operator would regret never starts quietly (docs/CLI.md, docs/RUNBOOK.md §6).
#ifndef TOOLS_APPEND_GUARDS_H_
#define TOOLS_APPEND_GUARDS_H_

#include <string>

namespace ron::tools {

// A new signing key while the export's last checkpoint of a stream of this writer was signed
// by another: without the previous key to cross-sign, auditors see missing_cross_signature on
// that stream for good. Returns kExitOk, or kExitFailed after saying which stream and the fix
// on stderr. The caller skips it for --previous-signer-key and --rotate-without-cross-signature.
int RefuseUnvouchedRotation(const std::string& export_dir, const std::string& writer_id,
                            const std::string& key_id);

// The default writer id is this host's: run on another host (or after a rename), it starts a
// new chain beside the old one. Warns on stderr when `stream` exists under another writer id
// only.
void WarnOfAnotherWritersStream(const std::string& dir, const std::string& writer_id,
                                const std::string& stream);

}  // namespace ron::tools

#endif  // TOOLS_APPEND_GUARDS_H_
