#include "ml/lightgcn.h"
#include "ml/ml_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <tuple>

namespace embedrec::ml {
namespace {

// A small random bipartite dataset.
using testing::RandomData;

struct Batch {
  std::vector<int32_t> users, pos, neg;
};

Batch SomeBatch(const Dataset& d, int size, int negs, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Batch b;
  while (static_cast<int>(b.users.size()) < size) {
    int32_t u = static_cast<int32_t>(rng() % d.n_users);
    if (d.train.degree(u) == 0) continue;
    b.users.push_back(u);
    b.pos.push_back(d.train.begin(u)[rng() % d.train.degree(u)]);
    for (int s = 0; s < negs; ++s) {
      int32_t j;
      do j = static_cast<int32_t>(rng() % d.n_items);
      while (d.train.Contains(u, j));
      b.neg.push_back(j);
    }
  }
  return b;
}

class PropagateTest : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Widths, PropagateTest, ::testing::Values(8, 16, 32, 64, 128));

TEST_P(PropagateTest, MatchesTheReferenceWithRowListsAndMasks) {
  Dataset d = RandomData(40, 30, 5, 1);
  NormalizedGraph g = NormalizedGraph::Build(d);
  const int dim = GetParam();
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(g.n() * dim), want(g.n() * dim), got(g.n() * dim, 7.0f);
  for (auto& v : x) v = u(rng);
  PropagateReference(g, x.data(), dim, want.data());
  Propagate(g, x.data(), dim, got.data());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << i;
  // Only listed rows are written; masked columns count as zero.
  std::vector<int32_t> rows = {0, 5, 41, 60};
  std::vector<uint8_t> mask(g.n(), 0);
  std::vector<float> xm(x.size(), 0.0f);
  for (int v = 0; v < g.n(); v += 3) {
    mask[v] = 1;
    for (int j = 0; j < dim; ++j) xm[v * dim + j] = x[v * dim + j];
  }
  PropagateReference(g, xm.data(), dim, want.data());
  std::fill(got.begin(), got.end(), 7.0f);
  Propagate(g, x.data(), dim, got.data(), &rows, mask.data());
  for (int r = 0; r < g.n(); ++r) {
    bool listed = std::find(rows.begin(), rows.end(), r) != rows.end();
    for (int j = 0; j < dim; ++j) {
      if (listed) ASSERT_NEAR(got[r * dim + j], want[r * dim + j], 1e-5);
      else ASSERT_EQ(got[r * dim + j], 7.0f);
    }
  }
  // Without Y, only the sum: acc[r] += scale · (ÂX)[r] on the listed rows.
  std::vector<float> acc(x.size(), 1.0f);
  Propagate(g, x.data(), dim, nullptr, &rows, mask.data(), acc.data(), 0.5f);
  for (int r = 0; r < g.n(); ++r) {
    bool listed = std::find(rows.begin(), rows.end(), r) != rows.end();
    for (int j = 0; j < dim; ++j) {
      ASSERT_NEAR(acc[r * dim + j], listed ? 1.0f + 0.5f * want[r * dim + j] : 1.0f, 1e-5);
    }
  }
}

// Backing an array with huge pages (collapsing the pages already written)
// must leave every value as it was.
TEST(NormalizedGraphTest, HugePagesKeepAnArraysValues) {
  std::vector<float> v(size_t{3} << 20);  // 12 MB: whole 2 MB pages inside
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 100003) * 0.5f;
  PreferHugePages(v);
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], static_cast<float>(i % 100003) * 0.5f) << i;
  std::vector<float> small(10, 1.0f), none;
  PreferHugePages(small);  // no whole page inside: left alone
  PreferHugePages(none);
  EXPECT_EQ(small, std::vector<float>(10, 1.0f));
}

TEST(NormalizedGraphTest, IsSymmetricWithInverseSqrtDegrees) {
  Dataset d = MakeDataset({{0, 0, 1, 0}, {0, 1, 1, 0}, {1, 1, 1, 0}}, {});
  NormalizedGraph g = NormalizedGraph::Build(d);
  ASSERT_EQ(g.n(), 4);
  ASSERT_EQ(g.nnz(), 6);
  // user 0 (degree 2) – item 1 (node 3, degree 2): 1/sqrt(2*2)
  for (int64_t e = g.offsets[0]; e < g.offsets[1]; ++e) {
    if (g.cols[e] == 3) {
      EXPECT_FLOAT_EQ(g.vals[e], 0.5f);
    }
    if (g.cols[e] == 2) {
      EXPECT_FLOAT_EQ(g.vals[e], static_cast<float>(1 / std::sqrt(2.0)));
    }
  }
  for (int r = 0; r < g.n(); ++r) {
    for (int64_t e = g.offsets[r]; e < g.offsets[r + 1]; ++e) {
      int c = g.cols[e];
      bool found = false;
      for (int64_t f = g.offsets[c]; f < g.offsets[c + 1]; ++f) {
        if (g.cols[f] == r) found = g.vals[f] == g.vals[e];
      }
      EXPECT_TRUE(found) << r << "," << c;
    }
  }
}

TEST(LightGcnCoreTest, FastGradientEqualsTheFullPropagationReference) {
  // Dense (the neighbourhoods cover every node), sparse (they do not: the
  // restricted rows and skipped inputs are exercised) and mixed (the first
  // hops are lists, the last every row: a pass over every row reads the
  // rows a list pass left).
  enum Kind { kDense, kSparse, kMixed };
  for (Kind kind : {kDense, kSparse, kMixed}) {
    Dataset d = kind == kSparse  ? RandomData(3000, 3000, 2, 3)
                : kind == kMixed ? RandomData(600, 600, 4, 3)
                                 : RandomData(60, 50, 4, 3);
    NormalizedGraph g = NormalizedGraph::Build(d);
    for (int layers : {0, 1, 3}) {
      LightGcnCore core(&g, 8, layers, 7);
      Batch b = SomeBatch(d, kind == kSparse ? 4 : kind == kMixed ? 12 : 16, 2, 4);
      double fast = core.LossAndGradient(b.users, b.pos, b.neg, 1e-2);
      std::vector<float> fast_grad = core.grad();
      if (kind == kSparse || (kind == kMixed && layers == 1)) {
        EXPECT_FALSE(core.grad_rows_all()) << kind << " " << layers;
      }
      if (kind == kMixed && layers == 3) {
        EXPECT_TRUE(core.grad_rows_all());
      }
      double ref = core.LossAndGradientReference(b.users, b.pos, b.neg, 1e-2);
      EXPECT_NEAR(fast, ref, 1e-6);
      for (size_t i = 0; i < fast_grad.size(); ++i) {
        ASSERT_NEAR(fast_grad[i], core.grad()[i], 1e-6) << "layers " << layers << " at " << i;
      }
    }
  }
}

TEST(LightGcnCoreTest, AdamStepMovesEveryParameterAndClearsTheGradient) {
  Dataset d = RandomData(20, 20, 3, 3);
  NormalizedGraph g = NormalizedGraph::Build(d);
  LightGcnCore core(&g, 4, 2, 7);
  Batch b = SomeBatch(d, 4, 1, 4);
  std::vector<float> before = core.ego();
  core.LossAndGradient(b.users, b.pos, b.neg, 0.0);
  std::vector<float> grad = core.grad();
  core.AdamStep(0.01);
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(core.grad()[i], 0.0f);
    // First Adam step: w -= lr * sign(g) (m̂ / sqrt(v̂) = g / |g|).
    if (grad[i] != 0) {
      EXPECT_NEAR(core.ego()[i], before[i] - 0.01f * (grad[i] > 0 ? 1 : -1), 1e-5);
    }
    else EXPECT_EQ(core.ego()[i], before[i]);
  }
}

TEST(LightGcnCoreTest, GradientMatchesFiniteDifferences) {
  Dataset d = RandomData(30, 25, 4, 5);
  NormalizedGraph g = NormalizedGraph::Build(d);
  LightGcnCore core(&g, 6, 3, 9);
  Batch b = SomeBatch(d, 8, 1, 6);
  const double reg = 0.05;
  core.LossAndGradient(b.users, b.pos, b.neg, reg);
  std::vector<float> grad = core.grad();
  std::mt19937 rng(1);
  int checked = 0;
  double max_grad = 0;
  for (float v : grad) max_grad = std::max<double>(max_grad, std::fabs(v));
  ASSERT_GT(max_grad, 1e-4);
  for (int trial = 0; trial < 60; ++trial) {
    size_t i = rng() % grad.size();
    const float saved = core.ego()[i];
    const float h = 1e-2f;
    core.ego()[i] = saved + h;
    double up = core.LossAndGradientReference(b.users, b.pos, b.neg, reg);
    core.ego()[i] = saved - h;
    double down = core.LossAndGradientReference(b.users, b.pos, b.neg, reg);
    core.ego()[i] = saved;
    double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(grad[i], numeric, 2e-4 + 0.02 * std::fabs(numeric)) << "entry " << i;
    ++checked;
  }
  EXPECT_EQ(checked, 60);
}

TEST(LightGcnCoreTest, SoftmaxGradientMatchesFiniteDifferencesAndTheReference) {
  Dataset d = RandomData(30, 25, 4, 5);
  NormalizedGraph g = NormalizedGraph::Build(d);
  for (int layers : {0, 2}) {
    LightGcnCore core(&g, 6, layers, 9);
    core.SetSoftmax(0.5);
    Batch b = SomeBatch(d, 8, 1, 6);
    // Shared negatives, one of them a positive of the batch (left out of
    // that row's softmax) and one repeated.
    std::vector<int32_t> neg = {b.pos[0], 3, 7, 7, 11};
    const double reg = 0.05;
    const double fast = core.LossAndGradient(b.users, b.pos, neg, reg);
    std::vector<float> grad = core.grad();
    const double ref = core.LossAndGradientReference(b.users, b.pos, neg, reg);
    EXPECT_NEAR(fast, ref, 1e-5);
    for (size_t i = 0; i < grad.size(); ++i) ASSERT_NEAR(grad[i], core.grad()[i], 1e-5) << i;
    double max_grad = 0;
    for (float v : grad) max_grad = std::max<double>(max_grad, std::fabs(v));
    ASSERT_GT(max_grad, 1e-3);
    std::mt19937 rng(1);
    for (int trial = 0; trial < 60; ++trial) {
      size_t i = rng() % grad.size();
      const float saved = core.ego()[i];
      const float h = 1e-3f;
      core.ego()[i] = saved + h;
      double up = core.LossAndGradientReference(b.users, b.pos, neg, reg);
      core.ego()[i] = saved - h;
      double down = core.LossAndGradientReference(b.users, b.pos, neg, reg);
      core.ego()[i] = saved;
      double numeric = (up - down) / (2 * h);
      EXPECT_NEAR(grad[i], numeric, 5e-4 + 0.02 * std::fabs(numeric))
          << "layers " << layers << " entry " << i;
    }
  }
}

// BPR-MF's step (no layers) reads E(0) in place and adds the loss's gradient
// to the optimiser's directly: it must move each row as the gradient
// LossAndGradient computes would (Adam's first step: lr · g / (|g| + ε)).
TEST(LightGcnCoreTest, TheStepWithoutLayersFollowsTheFullGradient) {
  Dataset d = RandomData(30, 25, 4, 5);
  NormalizedGraph g = NormalizedGraph::Build(d);
  for (bool softmax : {false, true}) {
    LightGcnCore step(&g, 6, 0, 9), reference(&g, 6, 0, 9);
    if (softmax) {
      step.SetSoftmax(0.5);
      reference.SetSoftmax(0.5);
    }
    Batch b = SomeBatch(d, 8, 1, 6);
    const double reg = 0.05, lr = 0.01;
    const double loss = reference.LossAndGradient(b.users, b.pos, b.neg, reg);
    const std::vector<float> before = step.ego();
    EXPECT_NEAR(step.TrainStep(b.users, b.pos, b.neg, reg, lr), loss, 1e-9) << softmax;
    int moved = 0;
    for (size_t i = 0; i < before.size(); ++i) {
      const float grad = reference.grad()[i], moved_by = step.ego()[i] - before[i];
      if (grad == 0) {
        ASSERT_EQ(moved_by, 0.0f) << "softmax " << softmax << " entry " << i;
        continue;
      }
      if (std::fabs(grad) < 1e-6) continue;  // ε's share too large to compare
      ASSERT_NEAR(moved_by, -lr * grad / std::fabs(grad), lr * 1e-2)
          << "softmax " << softmax << " entry " << i;
      ++moved;
    }
    EXPECT_GT(moved, 60) << softmax;
  }
}

TEST(LightGcnTest, SoftmaxLossLearnsPlantedTastes) {
  Dataset d = testing::PlantedSplit(11);
  for (const char* model : {"lightgcn", "bpr_mf"}) {
    TrainOptions o = testing::QuickOptions(model);
    o.loss = TrainOptions::Loss::kSoftmax;
    o.softmax_negatives = 64;
    auto m = testing::NewNamed(model);
    ASSERT_TRUE(m->Fit(d, o, nullptr).ok());
    // Chance: ~0.11 (LearnsPlantedTastes).
    Metrics r = Evaluate(d, m->user_embeddings().data(), m->item_embeddings().data(), 16, {10});
    EXPECT_GT(r.Get("recall@10"), 0.2) << model;
  }
}

TEST(LightGcnCoreTest, SampledStepIsExactForwardAndAnUnbiasedGradient) {
  Dataset d = RandomData(40, 30, 5, 5);
  NormalizedGraph g = NormalizedGraph::Build(d);
  const int dim = 6;
  for (int layers : {1, 3}) {
    LightGcnCore core(&g, dim, layers, 9, /*walks=*/4);
    Batch b = SomeBatch(d, 8, 2, 6);
    const double reg = 0.05;
    const double exact = core.LossAndGradientReference(b.users, b.pos, b.neg, reg);
    const std::vector<float> want = core.grad();
    std::fill(core.grad().begin(), core.grad().end(), 0.0f);
    core.Refresh();  // history = the current E(0): the forward is exact
    const int draws = 3000;
    std::vector<double> mean(want.size(), 0.0);
    double one_draw_error = 0, norm = 0;
    for (int r = 0; r < draws; ++r) {
      const double loss = core.SampledLossAndGradient(b.users, b.pos, b.neg, reg);
      ASSERT_NEAR(loss, exact, 1e-6);
      for (size_t i = 0; i < want.size(); ++i) {
        if (r == 0) one_draw_error += std::pow(core.grad()[i] - want[i], 2);
        mean[i] += core.grad()[i] / draws;
      }
      std::fill(core.grad().begin(), core.grad().end(), 0.0f);
    }
    double err = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      err += std::pow(mean[i] - want[i], 2);
      norm += std::pow(want[i], 2);
    }
    // One draw is noisy (the estimate is a sample); their mean converges on
    // the exact gradient (the noise falls as 1/√draws: ~2 % here).
    if (layers == 3) {
      EXPECT_GT(std::sqrt(one_draw_error / norm), 0.1);
    }
    EXPECT_LT(std::sqrt(err / norm), 0.05) << layers;
  }
}

TEST(LightGcnTest, LearnsPlantedTastes) {
  // Held-out items of a user's own half must rank far above chance, and
  // scores separate the halves for nearly every user.
  Dataset d = testing::PlantedSplit(11);
  auto m = NewLightGcn();
  ASSERT_TRUE(m->Fit(d, testing::QuickOptions("lightgcn"), nullptr).ok());
  Metrics r = Evaluate(d, m->user_embeddings().data(), m->item_embeddings().data(), 16, {10});
  // Chance: 10 of ~90 unseen items, half of them the right half → recall ~0.11.
  EXPECT_GT(r.Get("recall@10"), 0.2);
  int right = 0;
  for (int u = 0; u < 200; ++u) {
    const float* eu = m->user_embeddings().data() + u * 16;
    double own = 0, other = 0;
    for (int i = 0; i < 100; ++i) {
      double s = 0;
      for (int j = 0; j < 16; ++j) s += eu[j] * m->item_embeddings()[i * 16 + j];
      (i / 50 == u % 2 ? own : other) += s;
    }
    right += own > other;
  }
  EXPECT_GE(right, 190);
}

TEST(LightGcnTest, SameSeedSameEmbeddingsAcrossThreadCounts) {
  // Large enough that the propagation, loss and Adam loops really run in
  // parallel (smaller ones stay on the calling thread).
  Dataset d = RandomData(3000, 2000, 6, 8);
  TrainOptions o;
  o.embedding_dim = 32;
  ASSERT_GE(int64_t{d.n_users + d.n_items} * o.embedding_dim, kParallelMinWork);
  ASSERT_GE(int64_t{1024} * o.embedding_dim * 3, kParallelMinWork);
  o.epochs = 2;
  o.batch_size = 1024;
  o.eval_every = 0;
  // The exact step, the sampled step, BPR-MF (whose optimiser steps touch
  // the batch's rows only), and the softmax loss (sgemm on OpenBLAS's threads).
  for (auto [model, walks, softmax] : {std::tuple{"lightgcn", 0, false}, {"lightgcn", 2, false},
                                       {"bpr_mf", 0, false}, {"lightgcn", 0, true}}) {
    auto make = [model = std::string(model)] { return model == "bpr_mf" ? NewBprMf() : NewLightGcn(); };
    o.walks = walks;
    o.loss = softmax ? TrainOptions::Loss::kSoftmax : TrainOptions::Loss::kBpr;
    o.softmax_negatives = 512;
    o.seed = 2020;
    auto a = make();
    o.threads = 1;
    ASSERT_TRUE(a->Fit(d, o, nullptr).ok());
    auto b = make();
    o.threads = 2;
    ASSERT_TRUE(b->Fit(d, o, nullptr).ok());
    EXPECT_EQ(a->user_embeddings(), b->user_embeddings()) << model << walks;
    EXPECT_EQ(a->item_embeddings(), b->item_embeddings()) << model << walks;
    auto c = make();
    o.seed = 99;
    ASSERT_TRUE(c->Fit(d, o, nullptr).ok());
    EXPECT_NE(a->user_embeddings(), c->user_embeddings()) << model << walks;
  }
}

TEST(LightGcnTest, SampledStepLearnsPlantedTastesAsTheExactOneDoes) {
  Dataset d = testing::PlantedSplit(11);
  // Means over three seeds: one seed's recall moves by ±0.03 (0.18-0.24 over
  // eight seeds for either step), as much as the margins below.
  double recall[2] = {0, 0};
  for (int walks : {0, 2}) {
    for (uint64_t seed : {1, 2, 3}) {
      TrainOptions o = testing::QuickOptions("lightgcn");
      o.walks = walks;
      o.seed = seed;
      auto m = NewLightGcn();
      ASSERT_TRUE(m->Fit(d, o, nullptr).ok());
      recall[walks > 0] +=
          Evaluate(d, m->user_embeddings().data(), m->item_embeddings().data(), 16, {10})
              .Get("recall@10") / 3;
    }
  }
  EXPECT_GT(recall[1], 0.2);  // chance ~0.11 (LearnsPlantedTastes)
  EXPECT_GT(recall[1], recall[0] - 0.05);
}

TEST(LightGcnTest, BatchScalesWithTheDataOnlyWhenNotGiven) {
  TrainOptions o;  // batch_size 0: scaled
  // Small data keeps the reference's batch; large data keeps ~32 steps per
  // epoch (the exact step costs about the graph, so the epoch stays linear).
  EXPECT_EQ(o.BatchSizeFor(60'000, true), 2048);
  EXPECT_EQ(o.BatchSizeFor(1'200'000, true), 37'632);
  EXPECT_EQ(o.BatchSizeFor(12'000'000, true), 375'040);
  EXPECT_LE((12'000'000 + 375'039) / 375'040, TrainOptions::kStepsPerEpoch);
  EXPECT_EQ(o.BatchSizeFor(12'000'000, false), 2048);  // BPR-MF, sampled step: cost per batch
  o.batch_size = 512;                                  // given: honoured as given
  EXPECT_EQ(o.BatchSizeFor(12'000'000, true), 512);
  o.batch_size = -1;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);
}

TEST(LightGcnTest, RejectsBadHyperparameters) {
  Dataset d = RandomData(5, 5, 2, 1);
  TrainOptions o;
  o.embedding_dim = 0;
  EXPECT_EQ(NewLightGcn()->Fit(d, o, nullptr).code(), StatusCode::kInvalidArgument);
  o = TrainOptions{};
  o.negative_samples = 0;
  EXPECT_EQ(NewLightGcn()->Fit(d, o, nullptr).code(), StatusCode::kInvalidArgument);
  o = TrainOptions{};
  o.temperature = 0;
  EXPECT_EQ(NewLightGcn()->Fit(d, o, nullptr).code(), StatusCode::kInvalidArgument);
  o = TrainOptions{};
  o.softmax_negatives = 0;
  EXPECT_EQ(NewLightGcn()->Fit(d, o, nullptr).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace embedrec::ml
