// Distillation losses beyond the logit KD term of the training loop (compress/train.h): feature
// matching and attention transfer, as training-loop terms between a student node and a teacher
// node.
//
//   TrainOptions o;  o.teacher = &teacher;
//   o.terms.push_back(distill::term("mse", "shunt.out", "block10.add"));      // feature matching
//   o.terms.push_back(distill::term("attention", "block13.add", "block13.add", 1000));
//   distill::register_losses();   // makes "mse" / "attention" known to recipes (idempotent)
//
// Definitions (docs/distillation.md):
//   feature_mse(s, t)        = mean over all elements of (s - t)^2
//   attention_map(f)         = mean over channels of f^2, flattened per sample, L2-normalised
//   attention_transfer(s, t) = mean over samples and positions of (A(s) - A(t))^2
//                              (Zagoruyko & Komodakis 2017, p = 2; weight ~1000 in their code)
#pragma once
#include <string>

#include <torch/torch.h>

#include "compress/train.h"

namespace shrink::distill {

/// Mean squared error between two feature maps of the same shape (teacher not differentiated).
torch::Tensor feature_mse(const torch::Tensor& student, const torch::Tensor& teacher);
/// {N, C, ...} -> {N, prod(...)}: channel-mean of squares, each row L2-normalised (rows of zeros
/// stay zero).
torch::Tensor attention_map(const torch::Tensor& features);
/// Mean squared difference of the two attention maps. Student and teacher may have different
/// channel counts, not different spatial sizes.
torch::Tensor attention_transfer(const torch::Tensor& student, const torch::Tensor& teacher);

/// A training-loop term of a registered kind ("mse" | "attention").
LossTerm term(const std::string& kind, const std::string& student_node, const std::string& teacher_node,
              double weight = 1);

/// Registers "mse" and "attention" with the training loop (feature_loss()). Idempotent.
void register_losses();

}  // namespace shrink::distill
