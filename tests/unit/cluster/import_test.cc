// The import entry (cluster/import.h): a single node's journal, loaded for a new group, becomes
// one entry carrying its data keys (before the holders, as a restart restores them) and its
// live holders.
#include <boost/test/unit_test.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "cluster/import.h"
#include "persistence/files.h"

namespace semlock::cluster {
namespace {

constexpr std::int64_t kNowWall = 1'700'000'000'000;

persist::Record data(std::string key, std::vector<std::string> op, std::int64_t deadline = 0) {
  persist::Record r;
  r.type = persist::RecordType::kData;
  r.key = std::move(key);
  r.data = std::move(op);
  r.wall_deadline_ms = deadline;
  return r;
}

// A journal directory holding `records`.
std::string journal_dir(const std::vector<persist::Record>& records) {
  char tmpl[] = "/tmp/semlock-import-test-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  std::string bytes = persist::file_header(persist::kJournalMagic);
  for (const persist::Record& r : records) persist::encode_record(r, bytes);
  std::ofstream(persist::join_path(dir, persist::kJournalName), std::ios::binary) << bytes;
  return dir;
}

void remove_dir(const std::string& dir) {
  ::unlink(persist::join_path(dir, persist::kJournalName).c_str());
  ::rmdir(dir.c_str());
}

BOOST_AUTO_TEST_SUITE(import_entry)

BOOST_AUTO_TEST_CASE(data_keys_travel_before_the_holders) {
  persist::Record hold{persist::RecordType::kHold, "lock", "alice", 41, 1, kNowWall + 60'000};
  const std::string dir = journal_dir({
      data("ctr", {"ctr", "5"}),
      hold,
      data("h", {"hset", "f1", "v1", "f2", "v2"}),
      data("h", {"expire"}, kNowWall + 90'000),
      data("chan", {"publish", "hello", "1"}),  // a message, not state: not imported
      data("l", {"rpush", "x", "y"}),
      data("z", {"zadd", "1", "a"}),
  });
  const JournalImport imported = load_journal_for_import(dir, kNowWall, 0);
  remove_dir(dir);
  BOOST_TEST(imported.ok);
  BOOST_TEST(imported.holders.size() == 1u);
  BOOST_TEST(imported.data_records.size() == 5u);

  const DecodedEntry e = decode_entry(encode_import_entry(imported));
  BOOST_TEST(e.ok);
  BOOST_TEST(is_import_entry(e.header));
  BOOST_TEST(e.header.next_fence == imported.first_fence);
  BOOST_TEST_REQUIRE(e.records.size() == 6u);
  const std::vector<std::string> keys = {"ctr", "h", "h", "l", "z"};
  for (std::size_t i = 0; i < keys.size(); ++i) {
    BOOST_TEST((e.records[i].type == persist::RecordType::kData));
    BOOST_TEST(e.records[i].key == keys[i]);
  }
  BOOST_TEST((e.records[0].data == std::vector<std::string>{"ctr", "5"}));
  BOOST_TEST((e.records[1].data == std::vector<std::string>{"hset", "f1", "v1", "f2", "v2"}));
  BOOST_TEST(e.records[2].wall_deadline_ms == kNowWall + 90'000);  // the expiry travels
  BOOST_TEST((e.records[3].data == std::vector<std::string>{"rpush", "x", "y"}));
  BOOST_TEST((e.records[5].type == persist::RecordType::kHold));
  BOOST_TEST(e.records[5].key == "lock");
  BOOST_TEST(e.records[5].fence == 41u);
}

BOOST_AUTO_TEST_CASE(journal_without_data_keys_imports_holders_only) {
  persist::Record hold{persist::RecordType::kHold, "lock", "bob", 7, 2, kNowWall + 60'000};
  const std::string dir = journal_dir({hold});
  const JournalImport imported = load_journal_for_import(dir, kNowWall, 0);
  remove_dir(dir);
  BOOST_TEST(imported.ok);
  const DecodedEntry e = decode_entry(encode_import_entry(imported));
  BOOST_TEST_REQUIRE(e.records.size() == 1u);
  BOOST_TEST((e.records[0].type == persist::RecordType::kHold));
  BOOST_TEST(e.records[0].limit == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock::cluster
