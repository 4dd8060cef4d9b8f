// The `shoal` command line: its commands, and the options several of them share (parsing and
// --help are command_line.h's).
#ifndef SHOAL_APPS_COMMAND_H_
#define SHOAL_APPS_COMMAND_H_

#include <functional>
#include <string>
#include <vector>

#include "command_line.h"
#include "shoal/dataset.h"
#include "shoal/model.h"
#include "shoal/backend.h"
#include "shoal/status.h"

namespace shoal::cli {

// --backend NAME (shoal's fastest CPU kernels this CPU runs when absent), or an error that
// lists the backends this CPU has.
Result<const Backend*> backend_option(const Args& args);
// --key-file's pre-shared key, or "" without the option.
Result<std::string> key_option(const Args& args);
// --images: IDX (3-d grey or 4-d colour, gzipped or not), a .npy of uint8 images, or a folder
// of PNG or JPEG files (class folders, class_name/file.jpg, label them); --labels: IDX. With
// neither, the Fashion-MNIST test set. The first `limit` images (0: all). `model` (may be
// null) sizes a folder's images to its input and names its class folders.
struct LabelledImages {
  Images images;
  std::vector<uint8_t> labels;  // empty when unlabelled
  bool labelled = false;
};
Result<LabelledImages> images_option(const Args& args, uint32_t limit, const Model* model);
// --classes FILE (one name per line) or the model's class names (may be none).
Result<std::vector<std::string>> class_names_option(const Args& args, const Model& model);
// The same where labels are needed: an error says how to give them.
Result<LabelledImages> labelled_images_option(const Args& args, uint32_t limit, const Model* model = nullptr);
// kInvalidArgument, naming the first, when a label is not one of `classes` (a label file of
// another dataset would score 0 % without a word), or when the images and labels are the
// default (Fashion-MNIST's: neither --images nor --labels) and the model does not have its 10
// classes.
inline constexpr uint32_t kFashionMnistClasses = 10;
// Neither --images nor --labels: the Fashion-MNIST test set and its labels.
inline bool uses_default_test_set(const Args& args) { return !args.has("--images") && !args.has("--labels"); }
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
