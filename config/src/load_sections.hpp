#pragma once
// The loader's sections, one function each; they all report through one Reader.
#include "reader.hpp"

namespace rt::config::detail {

// Index of "critical".."background", or -1.
[[nodiscard]] int priority_index(std::string_view s);
// The optional `priority` key of `t`.
bool priority(Reader& r, const toml::table& t, const std::string& path, Priority& out);

void load_engine(Reader& r, const toml::table& root, AppConfig& app);
void load_settings(Reader& r, const toml::table& root, AppConfig& app);
// [retry.NAME], [[task]], [[periodic]]: fills engine.task_types and engine.breakers.
void load_tasks(Reader& r, const toml::table& root, AppConfig& app, const LoadOptions& opts);
// [[graph]], [[pipeline]], [[saga]].
void load_workflows(Reader& r, const toml::table& root, AppConfig& app, const LoadOptions& opts);
// What can only be checked once everything is read: names that refer to one another.
void cross_check(Reader& r, const toml::table& root, AppConfig& app);

// Handler names: any name when the catalogue is empty.
void check_handler(Reader& r, const toml::table& t, std::string_view key, const std::string& path,
                   const std::string& handler, const LoadOptions& opts);
// Where a handler runs; check_role reports one named in a place it cannot run.
enum class Role : std::uint8_t { Task, Periodic, Node, SagaStep };
void check_role(Reader& r, const toml::table& t, std::string_view key, const std::string& path,
                const std::string& handler, const LoadOptions& opts, Role role);
// `rate` in Hz: 0 (never), or 0.01..1e6.
void load_rate(Reader& r, const toml::table& t, const std::string& path, double& out);
void load_params(Reader& r, const toml::table& t, const std::string& path, HandlerParams& p);
// `hybrid_margin` ("auto": kAutoMargin, or a duration 0..1s), `hybrid_margin_cap` (the
// auto margin's largest share of the period, 0 < cap < 1) and `hybrid_margin_guard`.
void load_hybrid_margin(Reader& r, const toml::table& t, const std::string& path, ns_t& margin, double& cap,
                        ns_t& guard);

}  // namespace rt::config::detail
