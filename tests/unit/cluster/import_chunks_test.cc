// A journal import in several entries (cluster/import_chunks.h): cut into chunks, put back
// together in log order, applied once; chunks of a load given up, duplicates and chunks of an
// import already applied change nothing.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "cluster/import_chunks.h"
#include "persistence/record.h"

namespace semlock::cluster {
namespace {

// An import entry of `n` holders (header: proposer 0, the group's first fence 5000).
std::string import_entry(int n) {
  std::string out;
  begin_entry({0, 0, 5000}, out);
  for (int i = 0; i < n; ++i) {
    persist::Record r;
    r.type = persist::RecordType::kHold;
    r.key = "key-" + std::to_string(i);
    r.owner = "owner";
    r.fence = 100 + static_cast<std::uint64_t>(i);
    r.wall_deadline_ms = 1'700'000'000'000;
    persist::encode_record(r, out);
  }
  return out;
}

ImportChunk decode(const std::string& data) {
  ImportChunk c;
  std::string error;
  BOOST_TEST_REQUIRE(decode_import_chunk(data, c, error), error);
  return c;
}

using Step = ImportAssembler::Step;

}  // namespace

BOOST_AUTO_TEST_SUITE(import_chunks)

BOOST_AUTO_TEST_CASE(chunks_cut_records_and_come_back_whole) {
  const std::string entry = import_entry(50);
  const std::vector<std::string> chunks = encode_import_chunks(entry, 77, 100);
  BOOST_TEST(chunks.size() == (entry.size() - kEntryHeaderBytes + 99) / 100);
  BOOST_TEST(chunks.size() > 3u);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    BOOST_TEST(is_import_chunk(chunks[i]));
    BOOST_TEST(chunks[i].size() <= kImportChunkHeaderBytes + 100);
    const ImportChunk c = decode(chunks[i]);
    BOOST_TEST(c.import_id == 77u);
    BOOST_TEST(c.index == i);
    BOOST_TEST(c.count == chunks.size());
    BOOST_TEST(c.header.proposer == 0u);
    BOOST_TEST(c.header.next_fence == 5000u);
  }
  ImportAssembler a;
  std::string whole;
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
    BOOST_TEST((a.add(decode(chunks[i]), whole) == Step::kStored));
    BOOST_TEST(a.next() == i + 1);
  }
  BOOST_TEST((a.add(decode(chunks.back()), whole) == Step::kComplete));
  BOOST_TEST(whole == entry);  // the very entry a single-entry import was
  const DecodedEntry e = decode_entry(whole);
  BOOST_TEST(e.ok);
  BOOST_TEST(e.records.size() == 50u);
  // An import applied is not applied again (chunks proposed again after it ended).
  for (const std::string& c : chunks) BOOST_TEST((a.add(decode(c), whole) == Step::kIgnored));
}

BOOST_AUTO_TEST_CASE(an_empty_or_small_import_is_one_chunk) {
  for (const int n : {0, 1}) {
    const std::string entry = import_entry(n);
    const std::vector<std::string> chunks = encode_import_chunks(entry, 9);
    BOOST_TEST_REQUIRE(chunks.size() == 1u);
    ImportAssembler a;
    std::string whole;
    BOOST_TEST((a.add(decode(chunks[0]), whole) == Step::kComplete));
    BOOST_TEST(whole == entry);
  }
}

// A founder restarted between chunks loads the journal again (a new id): the log holds the first
// load's chunks, then the second's from chunk 0. Only the second is applied; a chunk proposed
// twice (a failed proposal's retry) is taken once.
BOOST_AUTO_TEST_CASE(a_load_given_up_and_duplicates_change_nothing) {
  const std::string first = import_entry(40);
  const std::string second = import_entry(30);  // holders expired in between
  const auto a_chunks = encode_import_chunks(first, 1, 64);
  const auto b_chunks = encode_import_chunks(second, 2, 64);
  ImportAssembler a;
  std::string whole;
  BOOST_TEST((a.add(decode(a_chunks[0]), whole) == Step::kStored));
  BOOST_TEST((a.add(decode(a_chunks[1]), whole) == Step::kStored));
  BOOST_TEST((a.add(decode(a_chunks[1]), whole) == Step::kIgnored));  // a duplicate
  BOOST_TEST((a.add(decode(b_chunks[1]), whole) == Step::kIgnored));  // not after its chunk 0
  BOOST_TEST((a.add(decode(b_chunks[0]), whole) == Step::kStored));  // the second load starts
  BOOST_TEST(a.import_id() == 2u);
  BOOST_TEST((a.add(decode(a_chunks[2]), whole) == Step::kIgnored));  // the first load's rest
  Step last = Step::kIgnored;
  for (std::size_t i = 1; i < b_chunks.size(); ++i) {
    last = a.add(decode(b_chunks[i]), whole);
    if (i == 3) BOOST_TEST((a.add(decode(b_chunks[i]), whole) == Step::kIgnored));
  }
  BOOST_TEST((last == Step::kComplete));
  BOOST_TEST(whole == second);
}

BOOST_AUTO_TEST_CASE(a_malformed_chunk_is_refused) {
  ImportChunk c;
  std::string error;
  BOOST_TEST(!decode_import_chunk(std::string(1, static_cast<char>(kImportChunkVersion)), c, error));
  BOOST_TEST(error.find("shorter than its header") != std::string::npos);
  std::string bad = encode_import_chunks(import_entry(1), 5)[0];
  bad[kImportChunkHeaderBytes - 8] = 3;  // index 3 of 1
  BOOST_TEST(!decode_import_chunk(bad, c, error));
  BOOST_TEST(error == "import chunk 3 of 1");
  // Older builds see a newer entry version and stop rather than misread it.
  const DecodedEntry e = decode_entry(encode_import_chunks(import_entry(1), 5)[0]);
  BOOST_TEST(!e.ok);
  BOOST_TEST(e.newer);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace semlock::cluster
