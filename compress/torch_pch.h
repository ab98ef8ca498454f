// The one precompiled header of the LibTorch-side targets.
#pragma once
#include <torch/torch.h>
