// Bindings: chained product, loss, gradient (Lemma 1), Hessian-vector product and Hessian.
#include "bindings.hpp"

#include <deeplinear/gradient.hpp>
#include <deeplinear/hessian.hpp>
#include <deeplinear/products.hpp>

namespace deeplinear::bindings {

template <class T>
static void register_for(py::module_& m) {
    m.def(
        "product",
        [](const Array<T>& layers_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            auto out = new_matrix<T>(layers.dim);
            auto out_map = matrix_map(out);
            {
                py::gil_scoped_release release;
                ThreadScope threads(1);
                Matrix<T> scratch(layers.dim, layers.dim);
                chain_product(layers, out_map, scratch);
            }
            return out;
        },
        py::arg("layers").noconvert());

    m.def(
        "loss",
        [](const Array<T>& layers_array, const Array<T>& phi_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            py::gil_scoped_release release;
            ThreadScope threads(1);
            GradientSweep<T> sweep(layers.depth, layers.dim);
            return static_cast<double>(sweep.forward(layers, phi));
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert());

    m.def(
        "gradient",
        [](const Array<T>& layers_array, const Array<T>& phi_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            auto out = new_layers<T>(layers.depth, layers.dim);
            auto out_view = layers_map(out);
            {
                py::gil_scoped_release release;
                ThreadScope threads(1);
                loss_and_gradient(layers, phi, out_view);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert());

    m.def(
        "hvp",
        [](const Array<T>& layers_array, const Array<T>& phi_array, const Array<T>& direction_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            const auto direction = layers_view<T>(direction_array, "direction");
            if (direction.depth != layers.depth || direction.dim != layers.dim) {
                throw py::value_error("direction must have the same shape as layers");
            }
            auto out = new_layers<T>(layers.depth, layers.dim);
            auto out_view = layers_map(out);
            {
                py::gil_scoped_release release;
                ThreadScope threads(1);
                HessianVectorProduct<T> hvp(layers, phi);
                hvp.apply(direction, out_view);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert(), py::arg("direction").noconvert());

    m.def(
        "hessian",
        [](const Array<T>& layers_array, const Array<T>& phi_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            auto out = new_matrix<T>(layers.depth * layers.dim * layers.dim);
            auto out_map = matrix_map(out);
            {
                py::gil_scoped_release release;
                ThreadScope threads(1);
                dense_hessian(layers, phi, out_map);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert());
}

void register_core(py::module_& m) {
    register_for<double>(m);  // float64 first: pybind11 takes the first overload that matches
    register_for<float>(m);
}

}  // namespace deeplinear::bindings
