#pragma once
// Force-included (-include) into the fuzz target ahead of toml++. toml++ 3.3's parser
// holds assumptions that input can break: parse_key() assumes it starts on a key
// character, but a table header such as `[{` reaches it on '{' and is then rejected by
// the branch the assumption declares dead. Built by clang, TOML_ASSUME is
// __builtin_assume and that input is undefined behaviour (UBSan: "assumption is violated
// during execution"); Debian's libtomlplusplus, which rtengine links, is built by GCC 12,
// where TOML_ASSUME expands to nothing and the branch reports a syntax error. The fuzz
// target compiles toml++ as it is shipped, so that libFuzzer reports our bugs, not this.
#include <toml++/impl/preprocessor.h>

#undef TOML_ASSUME
#define TOML_ASSUME(...) static_assert(true)
