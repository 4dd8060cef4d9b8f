#include "command_line.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace shoal::cli {

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

Result<double> Args::number(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0') {
    return Status(StatusCode::kInvalidArgument, name + " takes a number, not '" + it->second + "'");
  }
  return v;
}

Result<uint32_t> Args::count(const std::string& name, uint32_t fallback) const {
  if (!has(name)) return fallback;
  auto v = number(name, 0);
  if (!v.is_ok()) return v.status();
  if (!(v.value() >= 1) || v.value() > 4e9 || v.value() != static_cast<double>(static_cast<uint32_t>(v.value()))) {
    return Status(StatusCode::kInvalidArgument, name + " takes a whole number, 1 or more, not '" + get(name) + "'");
  }
  return static_cast<uint32_t>(v.value());
}

Result<Args> Command::parse(int argc, char** argv) const {
  Args args;
  for (int i = 0; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.size() < 2 || word[0] != '-' || word == "--") {
      args.positional_.push_back(word);
      continue;
    }
    std::string name = word, value;
    const size_t eq = word.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      name = word.substr(0, eq);
      value = word.substr(eq + 1);
    }
    const Option* option = nullptr;
    for (const Option& o : options) {
      if (name == o.name) option = &o;
    }
    if (!option) {
      return Status(StatusCode::kInvalidArgument,
                    "unknown option '" + name + "' (see '" + program + (*this->name ? " " : "") +
                        this->name + " --help')");
    }
    if (option->value && !inline_value) {
      if (i + 1 >= argc) return Status(StatusCode::kInvalidArgument, name + " needs a value: " + option->value);
      value = argv[++i];
    } else if (!option->value && inline_value) {
      return Status(StatusCode::kInvalidArgument, name + " takes no value");
    }
    if (args.values_.count(name)) {
      return Status(StatusCode::kInvalidArgument,
                    name + " is given twice; give it once" + (option->value ? " (a list takes commas: 1,2,3)" : ""));
    }
    args.values_[name] = value;
  }
  const size_t n = args.positional_.size();
  if (n < min_positional || n > max_positional) {
    return Status(StatusCode::kInvalidArgument,
                  std::string("wrong number of arguments; usage: ") + usage);
  }
  return args;
}

std::string Command::help() const {
  std::string text = std::string("usage: ") + usage + "\n\n" + description + "\n\noptions:\n";
  for (const Option& o : options) {
    std::string left = std::string("  ") + o.name + (o.value ? std::string(" ") + o.value : "");
    if (left.size() < 24) left.resize(24, ' ');
    std::string help = o.help;  // a long help's later lines line up under its first
    for (size_t at = help.find('\n'); at != std::string::npos; at = help.find('\n', at + 1)) help.insert(at + 1, 25, ' ');
    text += left + " " + help + "\n";
  }
  text += "  --help                 show this help\n";
  return text;
}

int run_command(const Command& command, int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::fputs(command.help().c_str(), stdout);
      return 0;
    }
  }
  Result<Args> args = command.parse(argc, argv);
  if (!args.is_ok()) {
    std::fprintf(stderr, "%s%s%s: %s\n", command.program, *command.name ? " " : "", command.name,
                 args.status().message().c_str());
    return 1;
  }
  return command.run(args.value());
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    items.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

Result<std::vector<double>> parse_numbers(const std::string& text, const std::string& option) {
  std::vector<double> numbers;
  for (const std::string& item : split_list(text)) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0') {
      return Status(StatusCode::kInvalidArgument, option + " takes numbers like 0.25,0.5,1, not '" + item + "'");
    }
    numbers.push_back(v);
  }
  return numbers;
}

Status write_file(const std::string& path, const void* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  const bool ok = f && std::fwrite(data, 1, size, f) == size;
  if (f && std::fclose(f) != 0) return Status(StatusCode::kIo, "writing " + path + " failed (disk full?)");
  return ok ? Status::ok() : Status(StatusCode::kIo, "cannot write " + path + ": check the folder exists and is writable");
}

Result<unsigned> threads_option(const Args& args) {
  Result<double> n = args.number("--threads", 1);
  if (!n.is_ok()) return n.status();
  if (n.value() < 1 || n.value() > 256 || n.value() != static_cast<unsigned>(n.value())) {
    return Status(StatusCode::kInvalidArgument, "--threads takes a whole number from 1 to 256");
  }
  return static_cast<unsigned>(n.value());
}

int fail(const char* command, const std::string& message) {
  std::fprintf(stderr, "shoal %s: %s\n", command, message.c_str());
  return 1;
}

int fail(const char* command, const Status& status) { return fail(command, status.message()); }

}  // namespace shoal::cli
