// Graph-to-graph passes of the IR.
#pragma once
#include "compress/ir/graph.h"

namespace shrink::ir {

/// Folds every BatchNorm whose input is a Conv2d (or Linear) consumed only by that BatchNorm
/// into the producer's weight and bias (bias created if absent), removes the BatchNorm node
/// and rewires its consumers. Returns the number of folded BatchNorms. Shapes are re-inferred.
/// Eval-mode arithmetic: y = gamma * (x - mean) / sqrt(var + eps) + beta.
int fold_batchnorm(Graph& g);

/// Turns every BatchNorm on a {C, H, W} tensor (left after fold_batchnorm: e.g. after an
/// activation) into the equivalent depthwise 1x1 Conv2d (groups = C, weight gamma / sqrt(var +
/// eps), bias beta - mean * that), for back ends without a BatchNorm op (the runtime). Returns
/// how many were converted. Shapes are re-inferred.
int batchnorm_to_conv(Graph& g);

/// Removes Identity nodes (rewiring their consumers). Returns how many were removed.
int remove_identities(Graph& g);

}  // namespace shrink::ir
