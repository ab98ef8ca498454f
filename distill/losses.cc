#include "distill/losses.h"

#include "compress/ir/error.h"

namespace shrink::distill {

torch::Tensor feature_mse(const torch::Tensor& student, const torch::Tensor& teacher) {
  if (student.sizes() != teacher.sizes())
    throw BadInput("feature matching: student map ", student.sizes(), " and teacher map ", teacher.sizes(),
                   " differ in shape");
  return (student - teacher.detach()).pow(2).mean();
}

torch::Tensor attention_map(const torch::Tensor& features) {
  if (features.dim() < 3)
    throw BadInput("attention transfer: a feature map {N, C, H, W} is needed, got ", features.sizes());
  torch::Tensor a = features.pow(2).mean(1).flatten(1);
  return torch::nn::functional::normalize(a, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1));
}

torch::Tensor attention_transfer(const torch::Tensor& student, const torch::Tensor& teacher) {
  if (student.dim() != teacher.dim() || student.dim() < 3 || student.size(0) != teacher.size(0) ||
      student.sizes().slice(2) != teacher.sizes().slice(2))
    throw BadInput("attention transfer: student map ", student.sizes(), " and teacher map ", teacher.sizes(),
                   " need the same batch and spatial sizes");
  return (attention_map(student) - attention_map(teacher.detach())).pow(2).mean();
}

void register_losses() {
  register_feature_loss("mse", feature_mse);
  register_feature_loss("attention", attention_transfer);
}

LossTerm term(const std::string& kind, const std::string& student_node, const std::string& teacher_node,
              double weight) {
  register_losses();
  return LossTerm{kind, student_node, teacher_node, weight, feature_loss(kind)};
}

}  // namespace shrink::distill
