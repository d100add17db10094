// ClusterSweep over the local backends: node 0 writes and dies (crash: its
// commit records stay uncovered), node 1 takes every stream over. The sweep
// then deletes node 0's commit records (their streams are checkpointed by
// node 1), unreferenced objects and stale stream checkpoints once they were
// seen unreferenced for the grace, never what a checkpoint or a commit
// record references (node 1 reads everything back afterwards), never a live
// node's flush in flight, and nothing at all when a read fails.
#include "log/cluster_sweep.h"

#include <gtest/gtest.h>

#include "log/log_test_util.h"

namespace ks::log {
namespace {

using logtest::LogHarness;
using namespace std::chrono_literals;

class ClusterSweepTest : public LogHarness {
 protected:
  ClusterSweep make_sweep() {
    ClusterSweepOptions o;
    o.streams = 16;
    o.grace = 10min;
    return ClusterSweep(fobj_, fmeta_, o);
  }
  void put_object(const std::string& key) { ASSERT_TRUE(fobj_->inner().put(key, "x").ok()); }
  bool exists(const std::string& key) { return fobj_->inner().get(key).ok(); }
};

TEST_F(ClusterSweepTest, DeletesWhatNobodyReferencesAfterTheGraceAndNothingElse) {
  TopicId id{};
  std::int64_t hwm = -1;
  LogOptions first;
  first.node_id = 0;
  // Node 0: three flushes on two partitions, then dies without a checkpoint.
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await logtest::make_topic(log, "swept", 2);
        for (int i = 0; i < 3; ++i) {
          for (int p = 0; p < 2; ++p) {
            auto t = logtest::append_batch(log, logtest::pkey(id, p), logtest::make_batch(3, "r"));
            EXPECT_TRUE(t.ok());
            if (t.ok()) {
              EXPECT_TRUE((co_await logtest::wait_done(*t->done, Clock::now() + 10s)).ok());
            }
          }
        }
        hwm = log.partition(logtest::pkey(id, 0))->hwm;
      },
      first, End::crash);
  ASSERT_EQ(hwm, 9);
  ASSERT_FALSE(meta_keys(keys::commits_prefix(0)).empty());
  // Node 1 takes every stream over (its acquire checkpoints them) and stops.
  LogOptions second;
  second.node_id = 1;
  run([&](LogManager& log) -> awaitable<void> { co_return; }, second);
  const std::size_t live_objects = object_count("objects/");

  // Leftovers: an object of node 0 never committed, a stale checkpoint of
  // node 0; a live node 5 with a flush in flight.
  const std::string orphan = keys::object(0, 1, 1000);
  const std::string stale = keys::stream_checkpoint_object(3, 0, 1, 1);
  const std::string in_flight = keys::object(5, 1, 7);
  put_object(orphan);
  put_object(stale);
  put_object(in_flight);
  ASSERT_TRUE(fmeta_->inner()->put(keys::member(5), "{}").ok());

  ClusterSweep sweep = make_sweep();
  const auto t0 = Clock::now();
  // A failed read deletes nothing.
  fobj_->set_unavailable(true);
  EXPECT_FALSE(sweep.run_once(t0).ok());
  fobj_->set_unavailable(false);
  EXPECT_FALSE(meta_keys(keys::commits_prefix(0)).empty());

  auto pass1 = sweep.run_once(t0);
  ASSERT_TRUE(pass1.ok()) << pass1.status().to_string();
  // Node 0's records are covered by node 1's checkpoints: gone at once.
  EXPECT_GT(pass1->commits_deleted, 0u);
  EXPECT_TRUE(meta_keys(keys::commits_prefix(0)).empty());
  // Unreferenced keys only become candidates.
  EXPECT_EQ(pass1->objects_deleted + pass1->checkpoints_deleted, 0u);
  EXPECT_TRUE(exists(orphan) && exists(stale) && exists(in_flight));

  auto pass2 = sweep.run_once(t0 + 10min);
  ASSERT_TRUE(pass2.ok()) << pass2.status().to_string();
  EXPECT_FALSE(exists(orphan));
  EXPECT_FALSE(exists(stale));
  EXPECT_TRUE(exists(in_flight));                         // node 5 is live and has not committed it yet
  EXPECT_EQ(object_count("objects/"), live_objects + 1);  // in_flight stays, nothing referenced goes
  const std::size_t after = object_count("objects/");

  // Everything node 0 wrote is still readable through node 1.
  run(
      [&](LogManager& log) -> awaitable<void> {
        for (int p = 0; p < 2; ++p) {
          std::vector<logtest::StoredBatch> got;
          EXPECT_TRUE((co_await logtest::read_all(log, logtest::pkey(id, p), got)).ok());
          EXPECT_TRUE(logtest::contiguous(got, 9));
        }
      },
      second);
  // The live node gone, its uncommitted object goes too (after the grace).
  ASSERT_TRUE(fmeta_->inner()->delete_range(keys::member(5)).ok());
  ASSERT_TRUE(sweep.run_once(t0 + 11min).ok());
  EXPECT_TRUE(exists(in_flight));
  ASSERT_TRUE(sweep.run_once(t0 + 21min).ok());
  EXPECT_FALSE(exists(in_flight));
  EXPECT_EQ(object_count("objects/"), after - 1);
}

}  // namespace
}  // namespace ks::log
