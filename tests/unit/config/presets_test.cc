// Every committed preset loads, through load_json_text() and through the real command line
// (--config --check-config), and keeps the properties its name promises.

#include <fstream>
#include <sstream>

#include <boost/test/unit_test.hpp>

#include "config/config.h"
#include "tests/unit/config/helpers.h"

namespace semlock::config {
namespace {

std::string preset_path(const std::string& name) {
  return std::string(SEMLOCK_PRESETS_DIR) + "/" + name + ".json";
}

LoadResult load_preset(const std::string& name) {
  std::ifstream in(preset_path(name));
  BOOST_TEST_REQUIRE(in.good(), "cannot open " << preset_path(name));
  std::stringstream text;
  text << in.rdbuf();
  return load_json_text(text.str());
}

BOOST_AUTO_TEST_SUITE(presets)

BOOST_AUTO_TEST_CASE(each_loads_cleanly) {
  for (const char* name : {"microservice", "enterprise", "development", "production"}) {
    BOOST_TEST_CONTEXT(name) {
      const LoadResult r = load_preset(name);
      BOOST_TEST(r.error == "");
      BOOST_TEST((r.action == LoadAction::kRun));
      BOOST_TEST(r.config.warnings.empty());
      const LoadResult checked = testing::run({"--config", preset_path(name), "--check-config"});
      BOOST_TEST(checked.error == "");
      BOOST_TEST(checked.exit_code == 0);
      BOOST_TEST(checked.output == "configuration OK\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(production_persists_to_var_lib) {
  const Config c = load_preset("production").config;
  BOOST_TEST(c.persistence.enabled);
  BOOST_TEST(c.persistence.dir == "/var/lib/ttl-semlock");
  BOOST_TEST(c.logging.format == "json");
  // With keys from the environment, auth becomes required.
  const LoadResult r =
      testing::run({"--config", preset_path("production")}, {"TTLSEMLOCK_API_KEYS=k1,k2"});
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.security.auth_required);
}

BOOST_AUTO_TEST_CASE(sizes_are_ordered) {
  const Config micro = load_preset("microservice").config;
  const Config dev = load_preset("development").config;
  const Config prod = load_preset("production").config;
  const Config enterprise = load_preset("enterprise").config;
  BOOST_TEST(dev.limits.max_locks < micro.limits.max_locks);
  BOOST_TEST(micro.limits.max_locks < prod.limits.max_locks);
  BOOST_TEST(prod.limits.max_locks < enterprise.limits.max_locks);
  BOOST_TEST(micro.limits.max_memory_mb < prod.limits.max_memory_mb);
  BOOST_TEST(prod.limits.max_memory_mb < enterprise.limits.max_memory_mb);
  BOOST_TEST(dev.logging.level == "debug");
  BOOST_TEST(!dev.persistence.enabled);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock::config
