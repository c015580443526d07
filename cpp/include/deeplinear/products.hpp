// Chained products Θ_{i:j} = Θ_j Θ_{j-1} ⋯ Θ_i (later layers on the left), Sec. 2.
#pragma once

#include "common.hpp"
#include "gemm.hpp"

namespace deeplinear {

// Θ_{1:L} = Θ_L ⋯ Θ_1 written into `out` (d×d) by `products` (of size d); `scratch` is a d×d
// work matrix.
template <class T, class Out, class Scratch>
void chain_product(LayerStack<const T> layers, Out&& out, Scratch&& scratch, Products<T>& products) {
    out = layers.layer(0);
    if (layers.depth == 1) return;
    for (Index i = 1; i < layers.depth; ++i) {
        products.multiply(layers.data + i * layers.dim * layers.dim, false, out.data(), false, scratch.data(), nullptr);
        out = scratch;
    }
}

}  // namespace deeplinear
