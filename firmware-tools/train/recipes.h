// The three ways shoal-train makes members (the papers: AdaEnsemble, Fluid, VIP; docs/design.md): `slimmable` (switchable
// batch-norm, sandwich rule, inplace distillation; several seeds, the best kept), `fluid` (the
// Fluid paper's nested incremental training) and `vip` (a teacher, students sliced after a
// ReLU and distilled, made diverse by augmentation or class imbalance).
#ifndef SHOAL_TRAIN_RECIPES_H_
#define SHOAL_TRAIN_RECIPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "trainer.h"

namespace shoal::train {

struct RecipeOptions {
  std::string arch;
  uint64_t seed = 1;
  uint32_t epochs = 10;
  uint32_t members = 1, keep = 1;      // slimmable: train `members` seeds, keep the best `keep`
  std::string student = "resnet8-s2";  // vip
  std::string diversity = "augment";   // vip: augment or imbalance; slimmable: seed, augment or imbalance
  uint32_t augment = 0;                // slimmable, vip: augmentations (data.h) every model gets
  uint32_t variants = 4;               // vip: diverse students
  double alpha = 0.5;                  // vip: alpha * CE + (1 - alpha) * KL
  uint32_t frozen_epochs = 1;          // vip: epochs that train only the student's new head
};

struct Trained {
  std::string path;  // the .shoal file written
  SlimNet net;       // the trained module it was exported from
};

// Each prints a summary table of test accuracy and returns what it wrote.
std::vector<Trained> train_slimmable(const RecipeOptions& o, const Context& ctx);
std::vector<Trained> train_fluid(const RecipeOptions& o, const Context& ctx);
std::vector<Trained> train_vip(const RecipeOptions& o, const Context& ctx);

}  // namespace shoal::train

#endif  // SHOAL_TRAIN_RECIPES_H_
