// Journal damage policy, the journal and snapshot files, loading a directory, fence reservation.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "persistence/fence_reservation.h"
#include "persistence/files.h"
#include "persistence/loader.h"
#include "tests/unit/persistence/helpers.h"

namespace semlock::persist {
namespace {

using test::TempDir;
using test::write_file;

Record hold(std::string key, std::string owner, std::uint64_t fence, std::int64_t deadline) {
  Record r;
  r.type = RecordType::kHold;
  r.key = std::move(key);
  r.owner = std::move(owner);
  r.fence = fence;
  r.limit = 1;
  r.wall_deadline_ms = deadline;
  return r;
}

Record drop(std::string key, std::string owner, std::uint64_t fence) {
  Record r = hold(std::move(key), std::move(owner), fence, 0);
  r.type = RecordType::kDrop;
  return r;
}

Record reservation(std::uint64_t fence) {
  Record r;
  r.type = RecordType::kFenceReservation;
  r.fence = fence;
  return r;
}

// A journal file (format 2): its header, then `records`.
std::string journal_of(std::string_view records) {
  return file_header(kJournalMagic) + std::string(records);
}

// A journal file with three holds: a@10, b@11, c@12; returns the offsets where records 2 and 3
// start.
std::string three_records(std::size_t& second, std::size_t& third) {
  std::string j = file_header(kJournalMagic);
  encode_record(hold("a", "o", 10, 5000), j);
  second = j.size();
  encode_record(hold("b", "o", 11, 5000), j);
  third = j.size();
  encode_record(hold("c", "o", 12, 5000), j);
  return j;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(journal)

BOOST_AUTO_TEST_CASE(replay_applies_holds_drops_and_reservations_in_order) {
  ReplayState s;
  s.apply(hold("k", "a", 5, 2000));
  s.apply(hold("k", "b", 6, 900));   // expired by 1000
  s.apply(hold("k", "a", 5, 3000));  // refresh
  s.apply(drop("x", "nobody", 1));   // dropping the unknown is harmless
  s.apply(reservation(1000));
  s.apply(reservation(500));  // a lower mark never lowers it
  const auto live = s.live_holders(1000);
  BOOST_TEST_REQUIRE(live.size() == 1u);
  BOOST_TEST(live[0].owner == "a");
  BOOST_TEST(live[0].wall_deadline_ms == 3000);
  BOOST_TEST(s.max_fence() == 1000u);
  BOOST_TEST(s.reserved_fence() == 1000u);
  s.apply(drop("k", "a", 5));
  BOOST_TEST(s.live_holders(1000).empty());
}

BOOST_AUTO_TEST_CASE(a_torn_last_record_is_cut_with_a_warning) {
  std::size_t second = 0;
  std::size_t third = 0;
  const std::string j = three_records(second, third);
  for (std::size_t cut = third + 1; cut < j.size(); ++cut) {
    ReplayState s;
    const JournalScan scan =
        scan_journal("d/journal.log", std::string_view(j).substr(0, cut), false, s);
    BOOST_TEST(scan.ok);
    BOOST_TEST(scan.valid_bytes == third);
    BOOST_TEST(scan.records == 2u);
    BOOST_TEST_REQUIRE(scan.warnings.size() == 1u);
    BOOST_TEST(scan.warnings[0].find("Journal ends in a torn record") == 0u);
    BOOST_TEST(scan.warnings[0].find("d/journal.log at offset " + std::to_string(third)) !=
               std::string::npos);
    BOOST_TEST(s.size() == 2u);
  }
}

BOOST_AUTO_TEST_CASE(a_bad_checksum_in_the_last_record_or_a_zero_tail_is_torn) {
  std::size_t second = 0;
  std::size_t third = 0;
  std::string j = three_records(second, third);
  j[j.size() - 1] = static_cast<char>(j.back() ^ 0x40);
  ReplayState s;
  JournalScan scan = scan_journal("journal.log", j, false, s);
  BOOST_TEST(scan.ok);
  BOOST_TEST(scan.valid_bytes == third);
  BOOST_TEST(scan.warnings.size() == 1u);

  std::string zeros = three_records(second, third) + std::string(4096, '\0');
  ReplayState s2;
  scan = scan_journal("journal.log", zeros, false, s2);
  BOOST_TEST(scan.ok);
  BOOST_TEST(scan.valid_bytes == zeros.size() - 4096);
  BOOST_TEST(s2.size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_bad_record_before_good_data_is_refused_with_file_and_offset) {
  std::size_t second = 0;
  std::size_t third = 0;
  std::string j = three_records(second, third);
  j[second + 13] = static_cast<char>(j[second + 13] ^ 0x01);  // in the payload
  ReplayState s;
  const JournalScan scan = scan_journal("/data/journal.log", j, false, s);
  BOOST_TEST(!scan.ok);
  BOOST_TEST(scan.error ==
             "Journal is damaged: bad record (checksum mismatch) in /data/journal.log at offset " +
                 std::to_string(second) + ", followed by " + std::to_string(j.size() - second) +
                 " more bytes; refusing to start. Start with --repair-journal to cut the journal "
                 "there (the records after it are lost)");
}

BOOST_AUTO_TEST_CASE(repair_cuts_at_the_bad_record) {
  std::size_t second = 0;
  std::size_t third = 0;
  std::string j = three_records(second, third);
  j[second + 13] = static_cast<char>(j[second + 13] ^ 0x01);
  ReplayState s;
  const JournalScan scan = scan_journal("journal.log", j, true, s);
  BOOST_TEST(scan.ok);
  BOOST_TEST(scan.valid_bytes == second);
  BOOST_TEST(s.size() == 1u);
  BOOST_TEST_REQUIRE(scan.warnings.size() == 1u);
  BOOST_TEST(scan.warnings[0] ==
             "Journal repaired (--repair-journal): bad record (checksum mismatch) in journal.log "
             "at offset " +
                 std::to_string(second) + ", " + std::to_string(j.size() - second) +
                 " bytes cut off");
}

BOOST_AUTO_TEST_CASE(load_directory_refuses_then_repairs_a_damaged_journal_on_disk) {
  TempDir dir;
  std::size_t second = 0;
  std::size_t third = 0;
  std::string j = three_records(second, third);
  j[second + 9] = static_cast<char>(j[second + 9] ^ 0x01);
  write_file(dir.file(kJournalName), j);
  LoadResult r = load_directory(dir.path, 1000, false);
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.error.find(dir.file(kJournalName) + " at offset " + std::to_string(second)) !=
             std::string::npos);
  r = load_directory(dir.path, 1000, true);
  BOOST_TEST(r.ok);
  BOOST_TEST(r.journal_valid_bytes == second);
  BOOST_TEST(r.holders.size() == 1u);
  // The journal is cut where the good records end when it is opened for appending.
  JournalFile f;
  BOOST_TEST(f.open(dir.file(kJournalName), r.journal_valid_bytes) == 0);
  BOOST_TEST(f.size() == second);
  std::string more;
  encode_record(hold("d", "o", 13, 5000), more);
  BOOST_TEST(f.append(more) == 0);
  BOOST_TEST(f.sync() == 0);
  r = load_directory(dir.path, 1000, false);
  BOOST_TEST(r.ok);
  BOOST_TEST(r.holders.size() == 2u);
  BOOST_TEST(r.max_fence == 13u);
}

BOOST_AUTO_TEST_CASE(snapshot_then_journal_and_expired_holders_dropped) {
  TempDir dir;
  std::string snap;
  encode_record(hold("s1", "o", 100, 9000), snap);
  encode_record(hold("s2", "o", 101, 1500), snap);  // expires while "down"
  encode_record(reservation(5000), snap);
  BOOST_TEST(write_snapshot(dir.path, snap) == 0);
  std::string j;
  encode_record(drop("s1", "o", 100), j);
  encode_record(hold("j1", "p", 102, 9000), j);
  j = journal_of(j);
  write_file(dir.file(kJournalName), j);
  const LoadResult r = load_directory(dir.path, 2000, false);
  BOOST_TEST(r.ok);
  BOOST_TEST_REQUIRE(r.holders.size() == 1u);
  BOOST_TEST(r.holders[0].key == "j1");
  BOOST_TEST(r.dropped_expired == 1u);
  BOOST_TEST(r.reserved_fence == 5000u);
  BOOST_TEST(r.max_fence == 5000u);
  BOOST_TEST(r.journal_valid_bytes == j.size());
}

// A background snapshot interrupted by a crash leaves journal.prev: it loads between the snapshot
// on disk and journal.log, and replaying it over a snapshot that already holds its state is
// harmless (the last record per holder wins).
BOOST_AUTO_TEST_CASE(journal_prev_of_an_interrupted_snapshot_is_replayed_in_order) {
  TempDir dir;
  std::string snap;  // the old snapshot: only "a"
  encode_record(hold("a", "o", 1, 9000), snap);
  BOOST_TEST(write_snapshot(dir.path, snap) == 0);
  std::string prev;  // the journal the new snapshot was being written from
  encode_record(drop("a", "o", 1), prev);
  encode_record(hold("b", "o", 2, 9000), prev);
  encode_record(hold("c", "o", 3, 9000), prev);
  write_file(dir.file(kJournalPrevName), journal_of(prev));
  std::string log;  // after the rotation
  encode_record(drop("c", "o", 3), log);
  encode_record(hold("d", "o", 4, 9000), log);
  write_file(dir.file(kJournalName), journal_of(log));
  LoadResult r = load_directory(dir.path, 1000, false);
  BOOST_TEST(r.ok);
  std::vector<std::string> keys;
  for (const auto& h : r.holders) keys.push_back(h.key);
  std::sort(keys.begin(), keys.end());
  BOOST_TEST(keys == (std::vector<std::string>{"b", "d"}), boost::test_tools::per_element());

  // The crash came after the new snapshot was renamed in: the same state again.
  std::string newer;
  encode_record(hold("b", "o", 2, 9000), newer);
  encode_record(hold("c", "o", 3, 9000), newer);
  BOOST_TEST(write_snapshot(dir.path, newer) == 0);
  r = load_directory(dir.path, 1000, false);
  keys.clear();
  for (const auto& h : r.holders) keys.push_back(h.key);
  std::sort(keys.begin(), keys.end());
  BOOST_TEST(keys == (std::vector<std::string>{"b", "d"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_damaged_snapshot_is_refused_even_with_repair) {
  TempDir dir;
  write_file(dir.file(kSnapshotName), "not a snapshot");
  LoadResult r = load_directory(dir.path, 0, true);
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.error == "Snapshot is damaged: " + dir.file(kSnapshotName) +
                            " at offset 0: not a SEMLSNAP file header");
  std::string snap = file_header(kSnapshotMagic);
  encode_record(hold("a", "o", 1, 10), snap);
  snap.pop_back();
  write_file(dir.file(kSnapshotName), snap);
  r = load_directory(dir.path, 0, true);
  BOOST_TEST(r.error == "Snapshot is damaged: bad record (record cut short) in " +
                            dir.file(kSnapshotName) + " at offset 16");
}

BOOST_AUTO_TEST_CASE(an_empty_directory_is_an_empty_state) {
  TempDir dir;
  const LoadResult r = load_directory(dir.path, 0, false);
  BOOST_TEST(r.ok);
  BOOST_TEST(r.holders.empty());
  BOOST_TEST(r.journal_valid_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(journal_reset_empties_the_file_to_its_header) {
  TempDir dir;
  JournalFile f;
  BOOST_TEST(f.open(dir.file(kJournalName), 0) == 0);
  BOOST_TEST(f.size() == kFileHeaderBytes);  // a new journal starts with its header
  BOOST_TEST(f.append("0123456789") == 0);
  BOOST_TEST(f.size() == kFileHeaderBytes + 10);
  BOOST_TEST(f.reset() == 0);
  BOOST_TEST(f.size() == kFileHeaderBytes);
  std::string data;
  BOOST_TEST(read_whole_file(dir.file(kJournalName), data) == 0);
  BOOST_TEST(data == file_header(kJournalMagic));
  JournalFile closed;
  BOOST_TEST(closed.append("x") == EBADF);
}

BOOST_AUTO_TEST_CASE(fence_reservation_is_monotonic_and_renews_before_the_mark) {
  FenceReservation res(1000000, 500000);
  BOOST_TEST(res.needs_renewal(1));
  res.set_reserved(res.next_mark(1));
  BOOST_TEST(res.reserved() == 1000001u);
  BOOST_TEST(!res.needs_renewal(500001));
  BOOST_TEST(res.needs_renewal(500002));
  res.set_reserved(10);  // never lowered
  BOOST_TEST(res.reserved() == 1000001u);
  // After a restart: above the reservation, above every stored fence, not below the clock.
  BOOST_TEST(FenceReservation::first_fence(1000001, 7, 5) == 1000002u);
  BOOST_TEST(FenceReservation::first_fence(10, 70, 5) == 71u);
  BOOST_TEST(FenceReservation::first_fence(10, 70, 500) == 500u);
  std::uint64_t last = 0;
  std::uint64_t next = 1;
  FenceReservation r2(100, 50);
  for (int i = 0; i < 1000; ++i) {
    next += 7;
    if (r2.needs_renewal(next)) r2.set_reserved(r2.next_mark(next));
    BOOST_TEST(r2.reserved() >= last);
    BOOST_TEST(r2.reserved() >= next + 50);
    last = r2.reserved();
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace semlock::persist
