#pragma once
// What the example programs share about their command line: parsing with CLI11, and the
// exit codes (0 success or --help, 1 failure while running, 2 bad flags or arguments).

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ratiomatch::examples {

/// A count flag's check: a whole number > 0. CLI11 reports a failure as
/// `--name: must be a positive whole number, got <value>`.
inline CLI::Validator positive_count() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        std::size_t used = 0;
        long long value = 0;
        try {
          value = std::stoll(input, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != input.size() || value <= 0) return "must be a positive whole number, got " + input;
        return {};
      },
      "POSITIVE");
}

/// Parses the command line; returns the exit code to leave `main` with (after --help or a
/// bad flag, whose message CLI11 prints), or nothing when the program should run.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  return std::nullopt;
}

/// Runs `body` (returning an exit code); a bad argument found while running gives exit code 2,
/// any other failure exit code 1, each with `program: message` on standard error.
template <class Body>
int run_reporting_errors(std::string_view program, Body&& body) {
  try {
    return body();
  } catch (const std::invalid_argument& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace ratiomatch::examples
