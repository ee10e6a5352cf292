// SEMLOCK.CLUSTER ADD id raft-addr client-addr | REMOVE id | MEMBERS (SPEC §9; admin key when
// admin keys are set). On a follower ADD and REMOVE go to the leader like every write; the
// leader proposes the change through Raft and answers +OK once it is applied.
#include <fmt/format.h>

#include <charconv>
#include <cctype>

#include "protocol/resp_reply.h"
#include "redis-compat/errors.h"
#include "server/forward_upstream.h"
#include "server/server.h"

namespace semlock {
namespace {

void write_error(std::string& out, std::string_view text) {
  out += '-';
  out.append(text);
  out += "\r\n";
}

void write_bulk(std::string& out, std::string_view s) {
  out += fmt::format("${}\r\n", s.size());
  out.append(s);
  out += "\r\n";
}

bool parse_id(std::string_view s, std::uint64_t& id) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), id);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && id >= 1 &&
         id <= (std::uint64_t{1} << 63);
}

bool host_port(std::string_view s) {
  const std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  unsigned port = 0;
  const std::string_view p = s.substr(colon + 1);
  const auto r = std::from_chars(p.data(), p.data() + p.size(), port);
  return r.ec == std::errc() && r.ptr == p.data() + p.size() && port >= 1 && port <= 65535;
}

}  // namespace

Server::ForwardStep Server::cluster_admin_command(Connection& c) {
  if (c.forward_pending > 0) return ForwardStep::kStall;
  std::string sub = argv_.size() > 1 ? std::string(argv_[1]) : std::string();
  for (char& ch : sub) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const std::size_t want = sub == "ADD" ? 5 : sub == "REMOVE" ? 3 : 2;
  if (argv_.size() < 2 || ((sub == "ADD" || sub == "REMOVE" || sub == "MEMBERS") &&
                           argv_.size() != want)) {
    write_error(c.out, "ERR wrong number of arguments for 'semlock.cluster' command");
    return ForwardStep::kDone;
  }
  if (auth_required() && !c.client.authenticated) {
    write_error(c.out, errors::kNoAuth);
    return ForwardStep::kDone;
  }
  if (admin_keys_configured() && !c.client.admin) {
    write_error(c.out, errors::kNoPerm);
    return ForwardStep::kDone;
  }
  if (sub == "ORPHAN") return cluster_orphan_command(c);  // between members: orphan_grants.cc
  if (sub != "ADD" && sub != "REMOVE" && sub != "MEMBERS") {
    write_error(c.out, fmt::format("ERR unknown subcommand '{}'. Try ADD, REMOVE or MEMBERS.",
                                   argv_[1]));
    return ForwardStep::kDone;
  }
  if (!cluster_enabled()) {
    write_error(c.out, "ERR cluster mode is off");
    return ForwardStep::kDone;
  }
  if (sub == "MEMBERS") {
    // Every member as [id, raft address, client address], as this member last heard.
    const std::vector<ClusterMember> members = cluster_members();
    c.out += fmt::format("*{}\r\n", members.size());
    for (const ClusterMember& m : members) {
      c.out += "*3\r\n";
      write_bulk(c.out, std::to_string(m.id));
      write_bulk(c.out, m.raft);
      write_bulk(c.out, m.client);
    }
    return ForwardStep::kDone;
  }
  std::uint64_t id = 0;
  if (!parse_id(argv_[2], id)) {
    write_error(c.out, "ERR member id must be an integer 1..2^63");
    return ForwardStep::kDone;
  }
  if (sub == "ADD" && (!host_port(argv_[3]) || !host_port(argv_[4]))) {
    write_error(c.out, "ERR addresses must be \"host:port\"");
    return ForwardStep::kDone;
  }
  if (cluster_refuses_writes()) {
    if (cluster_down()) {
      write_error(c.out, errors::kClusterDown);
      return ForwardStep::kDone;
    }
    ParkedRequest r;
    resp::encode_command(argv_, r.bytes);
    r.proto = c.client.proto;
    r.slots.push_back(ForwardSlot{});
    forwarder().forward(c, false, std::move(r));
    return ForwardStep::kDone;
  }
  // The leader: the change goes through Raft; the reply waits for it (and keeps its place).
  ++c.forward_pending;
  const std::uint64_t conn_id = c.id;
  cluster_conf_change(
      sub == "ADD" ? ClusterConfOp::kAdd : ClusterConfOp::kRemove, id,
      sub == "ADD" ? std::string(argv_[3]) : std::string(),
      sub == "ADD" ? std::string(argv_[4]) : std::string(),
      [this, conn_id](bool ok, const std::string& error) {
        const auto it = connections_.find(conn_id);
        if (it == connections_.end() || it->second->closed) return;
        Connection& conn = *it->second;
        if (ok) {
          conn.out += "+OK\r\n";
        } else {
          write_error(conn.out, error.empty() ? std::string_view("ERR membership change failed")
                                              : std::string_view(error));
        }
        forwarder().reply_done(conn_id);
      });
  return ForwardStep::kDone;
}

}  // namespace semlock
