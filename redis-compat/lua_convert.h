// Redis's conversions between RESP replies and Lua values (Redis's script_lua.c rules, RESP2):
// integer <-> number, bulk <-> string, null <-> false, array <-> table, status <-> {ok=...},
// error <-> {err=...}, Lua true -> 1.
#pragma once

#include <lua.hpp>

#include <cstddef>
#include <string_view>

#include "protocol/resp_writer.h"

namespace semlock::redis {

// Pushes the Lua value of one complete RESP2 reply (produced by this server's own writer) from
// the front of `reply`, advancing it. An error reply becomes the table {err = "CODE text"}.
void push_reply(lua_State* L, std::string_view& reply);

// True when the value at `index` is a table with a string `err` field (an error reply).
bool is_error_table(lua_State* L, int index);

// Writes the Lua value at `index` as the script's reply. Tables nest up to a depth bound; deeper
// values become null, as an array cut short. A reply of more than `max_elements` values or about
// `max_bytes` bytes is not written (returns false): a table that holds itself, or a few tables
// shared many times, would otherwise expand without bound. Raw access only: no metamethod runs.
bool write_value(lua_State* L, int index, resp::Writer& w, std::size_t max_elements,
                 std::size_t max_bytes);

}  // namespace semlock::redis
