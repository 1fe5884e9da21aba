// The peer rig's command line (bench/peers/peers.cc; docs/BENCH_RIG.md).
#ifndef BENCH_PEERS_OPTIONS_H_
#define BENCH_PEERS_OPTIONS_H_

#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench/peers/targets.h"

namespace ron::bench {

struct Options {
  std::string dir = "build/bench-data/peers";
  double seconds = 2;
  size_t records = 100000;  // per writer (= per stream) and cell; also the pool per stream
  bool keep = false;
  std::string json;
  std::set<std::string> systems{"device",     "device-append", "sqlite",       "rocksdb",
                                "ron-sealed", "ron-emit",      "ron-pipelined"};
  bool grid = true, ack = true;
  std::vector<int> producers{4, 64};
  bool sqlite_mutex = false;
  bool preallocate = true;  // ron-audit: EngineOptions::preallocate_segments
  std::string command;
};

inline void Usage() {
  std::fprintf(stderr,
               "usage: peers [--dir DIR] [--seconds S] [--records N] [--keep] [--json PATH|-]\n"
               "             [--systems device,device-append,sqlite,rocksdb,ron-sealed,ron-emit,\n"
               "                        ron-pipelined]\n"
               "             [--only grid|ack] [--producers 4,64] [--sqlite-mutex]\n"
               "             [--preallocate on|off]\n"
               "Each cell runs until every writer wrote N records (default 100000 per writer)\n"
               "or S seconds passed (default 2), whichever comes first.\n");
}

inline std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

inline Options ParseArgs(int argc, char** argv) {
  Options opt;
  opt.command = argv[0];
  for (int i = 1; i < argc; ++i) opt.command += std::string(" ") + argv[i];
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        Die(a + " needs a value");
      }
      return argv[++i];
    };
    if (a == "--dir") {
      opt.dir = value();
    } else if (a == "--seconds") {
      opt.seconds = std::atof(value().c_str());
    } else if (a == "--records") {
      opt.records = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--keep") {
      opt.keep = true;
    } else if (a == "--json") {
      opt.json = value();
    } else if (a == "--sqlite-mutex") {
      opt.sqlite_mutex = true;
    } else if (a == "--preallocate") {
      const std::string v = value();
      if (v != "on" && v != "off") Die("--preallocate takes on or off");
      opt.preallocate = v == "on";
    } else if (a == "--systems") {
      opt.systems.clear();
      for (const std::string& s : Split(value())) {
        if (Options().systems.count(s) == 0) Die("unknown system " + s);
        opt.systems.insert(s);
      }
    } else if (a == "--only") {
      const std::string v = value();
      if (v != "grid" && v != "ack") Die("--only takes grid or ack");
      opt.grid = v == "grid";
      opt.ack = v == "ack";
    } else if (a == "--producers") {
      opt.producers.clear();
      for (const std::string& s : Split(value())) opt.producers.push_back(std::atoi(s.c_str()));
    } else if (a == "-h" || a == "--help") {
      Usage();
      std::exit(0);
    } else {
      Usage();
      Die("unknown argument " + a);
    }
  }
  if (opt.seconds <= 0 || opt.records == 0) Die("--seconds and --records must be positive");
  for (int p : opt.producers) {
    if (p < 1 || p > 1024) Die("--producers: 1..1024 threads");
  }
  return opt;
}

}  // namespace ron::bench

#endif  // BENCH_PEERS_OPTIONS_H_
