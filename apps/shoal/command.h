// The `shoal` command line: its commands, and the options several of them share (parsing and
// --help are command_line.h's).
#ifndef SHOAL_APPS_COMMAND_H_
#define SHOAL_APPS_COMMAND_H_

#include <functional>
#include <string>
#include <vector>

#include "command_line.h"
#include "shoal/dataset.h"
#include "shoal/backend.h"
#include "shoal/status.h"

namespace shoal::cli {

// --backend NAME (shoal's fastest CPU kernels this CPU runs when absent), or an error that
// lists the backends this CPU has.
Result<const Backend*> backend_option(const Args& args);
// --key-file's pre-shared key, or "" without the option.
Result<std::string> key_option(const Args& args);
// --images and --labels (default: the Fashion-MNIST test set), the first `limit` of each,
// the same count in both.
struct LabelledImages {
  Images images;
  std::vector<uint8_t> labels;
};
Result<LabelledImages> labelled_images_option(const Args& args, uint32_t limit);
// kInvalidArgument, naming the first, when a label is not one of `classes` (a label file of
// another dataset would score 0 % without a word), or when the labels are the default
// (Fashion-MNIST's, no --labels) and the model does not have its 10 classes.
inline constexpr uint32_t kFashionMnistClasses = 10;
Status labels_fit(const std::vector<uint8_t>& labels, uint32_t classes, const Args& args);

// The most probable class (the first of a tie).
inline uint32_t top_class(const std::vector<float>& probabilities) {
  uint32_t best = 0;
  for (uint32_t i = 1; i < probabilities.size(); ++i) best = probabilities[i] > probabilities[best] ? i : best;
  return best;
}

// SIGINT and SIGTERM, to stop a long-running command cleanly. block_stop_signals() first,
// before any thread starts (threads inherit the mask, so none of them is killed by one);
// later on_stop_signal() runs `stop` on a thread of its own when one arrives.
void block_stop_signals();
void on_stop_signal(std::function<void(int signal)> stop);

extern const Command kBench;
extern const Command kInspect;
extern const Command kRun;
extern const Command kSynth;
extern const Command kPack;
extern const Command kEmbed;
extern const Command kWorker;
extern const Command kMaster;
extern const Command kDemo;
extern const Command kProfile;
extern const Command kSplit;
extern const Command kPartition;
extern const Command kExperiment;
extern const Command kImport;

}  // namespace shoal::cli

#endif  // SHOAL_APPS_COMMAND_H_
