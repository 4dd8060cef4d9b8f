// How shoal's tools (shoal, shoal-worker, shoal-train) read their command lines: each command
// declares its options once, and that list drives parsing, validation and --help. Nothing
// here knows what the tools do.
#ifndef SHOAL_TOOLS_COMMAND_LINE_H_
#define SHOAL_TOOLS_COMMAND_LINE_H_

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "shoal/status.h"

namespace shoal::cli {

struct Option {
  const char* name;   // "--subnet"
  const char* value;  // "NAME", or nullptr for a flag
  const char* help;
};

class Args {
 public:
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  // Numbers with a plain-language error naming the option.
  Result<double> number(const std::string& name, double fallback) const;
  // A count given with the option must be a whole number of at least 1 (`fallback`, which
  // may be 0 for "all", when the option is absent).
  Result<uint32_t> count(const std::string& name, uint32_t fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend struct Command;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

struct Command {
  const char* name;
  const char* summary;
  const char* usage;        // "shoal inspect MODEL [--json]"
  const char* description;  // a paragraph for --help
  std::vector<Option> options;
  int (*run)(const Args& args);
  size_t min_positional = 0, max_positional = 0;
  const char* program = "shoal";  // "shoal-train" for the trainer

  Result<Args> parse(int argc, char** argv) const;
  std::string help() const;
};

// Shows progress on stderr: a live line on a terminal, a line every 10 s in a log.
class Progress {
 public:
  explicit Progress(bool quiet) : tty_(!quiet && isatty(STDERR_FILENO)), quiet_(quiet) {}
  void update(const std::string& subnet, uint32_t done, uint32_t total) {
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (quiet_ || since < (tty_ ? 0.2 : 10.0)) return;
    last_ = now;
    std::fprintf(stderr, tty_ ? "\r  %s: %u/%u images " : "  %s: %u/%u images\n", subnet.c_str(), done, total);
  }
  void done() {
    if (tty_) std::fprintf(stderr, "\r%100s\r", "");
  }

 private:
  bool tty_, quiet_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Runs `command` on argv (after the command's name): --help, parsing, then run().
int run_command(const Command& command, int argc, char** argv);

// "a,b,c" -> items; a list of numbers, with an error naming the option.
std::vector<std::string> split_list(const std::string& text);
Result<std::vector<double>> parse_numbers(const std::string& text, const std::string& option);

// Writes a whole file, or says why not.
Status write_file(const std::string& path, const void* data, size_t size);

// --threads N (default 1), checked.
Result<unsigned> threads_option(const Args& args);

// Prints "shoal NAME: message" to stderr and returns the exit code for a failed command.
int fail(const char* command, const Status& status);
int fail(const char* command, const std::string& message);

}  // namespace shoal::cli

#endif  // SHOAL_TOOLS_COMMAND_LINE_H_
