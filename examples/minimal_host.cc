// The smallest host: opens an engine with its WAL in DIR, records three events, waits until
// each is durable, prints where each landed, and closes.
//
//   c++ -std=c++20 minimal_host.cc $(pkg-config --cflags --libs ron-audit) -o minimal_host
//   ./minimal_host /tmp/audit-wal && ronctl audit verify --dir /tmp/audit-wal
#include <sys/stat.h>

#include <cstdio>
#include <vector>

#include <ron_audit/ron_audit.h>

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: minimal_host DIR\n"), 2;
  mkdir(argv[1], 0700);  // the engine wants its directory to exist (an existing one is fine)
  ron::EngineOptions options;
  options.writer_id = "minimal-host@example";
  options.config.sink = ron::SinkKind::kWal;
  options.config.amnesia = false;
  options.config.wal.dir = argv[1];
  options.config.wal.fsync = ron::FsyncPolicy::kAlways;  // acknowledged = on disk
  auto engine = ron::Engine::Open(options);
  if (!engine.ok()) return std::fprintf(stderr, "%s\n", engine.status().ToString().c_str()), 1;

  const char* drafts[] = {
      R"({"kind":"Login","actor":{"passport_id":"u:1"},"subject":{},"reason":"ok","attrs":{}})",
      R"({"kind":"Read","actor":{"passport_id":"u:1"},"subject":{"name":"doc-7"},"reason":"ok","attrs":{"bytes":512}})",
      R"({"kind":"Logout","actor":{"passport_id":"u:1"},"subject":{},"reason":"ok","attrs":{}})"};
  std::vector<ron::Ticket> tickets;
  for (const char* draft : drafts) {
    auto ticket = engine.value()->Emit("sessions", draft);  // never blocks; Busy when full
    if (!ticket.ok()) return std::fprintf(stderr, "%s\n", ticket.status().ToString().c_str()), 1;
    tickets.push_back(ticket.value());
  }
  const ron::Deadline deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (const ron::Ticket& ticket : tickets) {
    auto receipt = ticket.Wait(deadline);
    if (!receipt.ok()) return std::fprintf(stderr, "%s\n", receipt.status().ToString().c_str()), 1;
    std::printf("seq %llu %s\n", static_cast<unsigned long long>(receipt.value().seq),
                ron::HashText(receipt.value().self_hash).c_str());
  }
  const ron::Status closed = engine.value()->Close(deadline);
  if (!closed.ok()) return std::fprintf(stderr, "%s\n", closed.ToString().c_str()), 1;
  return 0;
}
