// Bindings: a batch of independent training runs (batch.hpp) behind deeplinear.BatchTrainer and
// deeplinear.train_batch. Conversion, the GIL and Ctrl-C only.
#include "bindings.hpp"

#include <deeplinear/batch.hpp>
#include <deeplinear/engine.hpp>

#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace deeplinear::bindings {

namespace {

using Doubles = py::array_t<double, py::array::c_style>;

Method method_named(const std::string& name) {
    for (std::size_t i = 0; i < kMethodCount; ++i) {
        if (name == kMethodNames[i]) return static_cast<Method>(i);
    }
    throw py::value_error("unknown method '" + name + "'");
}

const double* per_network(const Doubles& values, py::ssize_t batch, const char* name) {
    if (values.ndim() != 1 || values.shape(0) != batch) {
        throw py::value_error(std::string(name) + " must have one value per network");
    }
    return values.data();
}

template <class T>
class BatchSession {
public:
    BatchSession(Array<T> layers, Array<T> phis, const std::string& method, const Doubles& lr, const Doubles& gamma,
                 const Doubles& psi, const Doubles& kappa, std::int64_t record_every, const ExecutionContext& context,
                 bool diagnostics, LanePolicy lanes, const std::optional<Doubles>& identity_scales)
        : layers_(std::move(layers)), phis_(std::move(phis)), batch_(context, lanes) {
        // each network on one thread; the batch shares the networks among the context's threads
        ExecutionContext single = context;
        single.threads = 1;
        if (layers_.ndim() != 4 || layers_.shape(2) != layers_.shape(3) || layers_.shape(0) < 1 ||
            layers_.shape(1) < 1 || layers_.shape(2) < 1) {
            throw py::value_error("layers must have shape (B, L, d, d) with B, L, d >= 1");
        }
        if (!layers_.writeable()) throw py::value_error("layers must be writable");
        const py::ssize_t count = layers_.shape(0), depth = layers_.shape(1), dim = layers_.shape(2);
        if (phis_.ndim() != 3 || phis_.shape(0) != count || phis_.shape(1) != dim || phis_.shape(2) != dim) {
            throw py::value_error("phis must have shape (B, d, d) matching the layers");
        }
        check_finite(phis_, "phis");
        const double* rates = per_network(lr, count, "lr");
        const double* gammas = per_network(gamma, count, "gamma");
        const double* psis = per_network(psi, count, "psi");
        const double* kappas = per_network(kappa, count, "kappa");
        const double* scales = identity_scales ? per_network(*identity_scales, count, "identity_scales") : nullptr;
        TrainerSettings settings;
        settings.record_every = record_every;
        settings.diagnostics = diagnostics;
        const Method kind = method_named(method);
        T* data = layers_.mutable_data();
        const T* targets = phis_.data();
        // the networks' engines are made on the batch's threads (no Python objects touched there)
        py::gil_scoped_release release;
        batch_.add_many(static_cast<std::size_t>(count), [&](std::size_t b, std::unique_ptr<Trainer<T>>& trainer,
                                                             const T*& phi, MethodParams<T>& params) {
            params.method = kind;
            params.lr = static_cast<T>(rates[b]);
            params.gamma = static_cast<T>(gammas[b]);
            params.psi = static_cast<T>(psis[b]);
            params.kappa = static_cast<T>(kappas[b]);
            const auto offset = static_cast<py::ssize_t>(b);
            LayerStack<T> network{data + offset * depth * dim * dim, depth, dim};
            if (scales != nullptr) {  // scales[b]·I, written (first touched) by this thread
                std::fill(network.data, network.data + network.size(), T(0));
                for (Index l = 0; l < depth; ++l) network.layer(l).diagonal().setConstant(static_cast<T>(scales[b]));
            }
            phi = targets + offset * dim * dim;
            auto engine = make_engine<T>(network, phi, params, single);
            trainer = std::make_unique<Trainer<T>>(network.data, static_cast<std::size_t>(network.size()),
                                                   std::move(engine), settings);
        });
        batch_.set_shape(depth, dim);
    }

    // (status codes as in `statuses`, steps taken, ℓ of each final state), one entry per network
    py::tuple run(const py::array_t<std::int64_t, py::array::c_style>& max_steps, const Doubles& tol,
                  bool record_final) {
        auto lock = guard();
        const auto count = static_cast<py::ssize_t>(batch_.size());
        const double* tols = per_network(tol, count, "tol");
        if (max_steps.ndim() != 1 || max_steps.shape(0) != count) {
            throw py::value_error("max_steps must have one value per network");
        }
        const std::int64_t* budgets = max_steps.data();
        std::vector<LoopResult> results(batch_.size());
        std::optional<py::error_already_set> pending;
        if (cancelled_.exchange(false)) {  // a cancel() between calls stops this one before its first step
            for (std::size_t b = 0; b < batch_.size(); ++b) {
                results[b].status = Status::interrupted;
                results[b].loss = loss_of(b);
            }
        } else {
            py::gil_scoped_release release;
            const Interrupt interrupted = [this, &pending] {
                if (cancelled_.exchange(false)) return true;
                py::gil_scoped_acquire acquire;
                if (PyErr_CheckSignals() == 0) return false;
                pending.emplace();
                return true;
            };
            batch_.run(budgets, tols, record_final, interrupted, results.data());
        }
        if (pending && !pending->matches(PyExc_KeyboardInterrupt)) throw *pending;
        py::array_t<std::int8_t> codes(count);
        py::array_t<std::int64_t> taken(count);
        py::array_t<double> losses(count);
        for (py::ssize_t b = 0; b < count; ++b) {
            codes.mutable_data()[b] = static_cast<std::int8_t>(results[static_cast<std::size_t>(b)].status);
            taken.mutable_data()[b] = results[static_cast<std::size_t>(b)].steps;
            losses.mutable_data()[b] = results[static_cast<std::size_t>(b)].loss;
        }
        return py::make_tuple(codes, taken, losses);
    }

    // As Session::cancel (register_trainer.cpp).
    void cancel() { cancelled_.store(true); }
    bool uses_lanes() const { return batch_.uses_lanes(); }

    void set_lr(const Doubles& lr) {
        auto lock = guard();
        const double* rates = per_network(lr, static_cast<py::ssize_t>(batch_.size()), "lr");
        for (std::size_t b = 0; b < batch_.size(); ++b) batch_.set_lr(b, rates[b]);
    }
    void set_record_every(std::int64_t record_every) {
        auto lock = guard();
        for (std::size_t b = 0; b < batch_.size(); ++b) batch_.network(b).set_record_every(record_every);
    }

    py::array_t<std::int64_t> steps() const {
        py::array_t<std::int64_t> out(static_cast<py::ssize_t>(batch_.size()));
        for (std::size_t b = 0; b < batch_.size(); ++b) out.mutable_data()[b] = batch_.network(b).steps();
        return out;
    }

    py::array_t<bool> recorded_current() const {
        py::array_t<bool> out(static_cast<py::ssize_t>(batch_.size()));
        for (std::size_t b = 0; b < batch_.size(); ++b) out.mutable_data()[b] = batch_.network(b).recorded_current();
        return out;
    }

    py::array_t<std::int64_t> history_sizes() const {
        py::array_t<std::int64_t> out(static_cast<py::ssize_t>(batch_.size()));
        for (std::size_t b = 0; b < batch_.size(); ++b) {
            out.mutable_data()[b] = static_cast<std::int64_t>(batch_.network(b).history().size());
        }
        return out;
    }

    // Network b's records from `start`: (losses, loss_steps, diagnostics or None).
    py::tuple history(std::size_t b, std::size_t start) {
        auto lock = guard();
        return history_tuple(network(b).history(), start);
    }

    double record_current(std::size_t b) {
        auto lock = guard();
        Trainer<T>& trainer = network(b);
        py::gil_scoped_release release;
        return trainer.record_current();
    }

    // ℓ of every network's current layers (std::invalid_argument naming the first that is not
    // finite), or of network b's alone.
    py::array_t<double> loss() {
        auto lock = guard();
        py::array_t<double> out(static_cast<py::ssize_t>(batch_.size()));
        double* data = out.mutable_data();
        py::gil_scoped_release release;
        for (std::size_t b = 0; b < batch_.size(); ++b) data[b] = loss_of(b);
        return out;
    }
    // Notes each network's change of layers made from outside since the last call (as the next
    // call would). ValueError unless every network's layers are finite.
    void check() {
        auto lock = guard();
        for (std::size_t b = 0; b < batch_.size(); ++b) batch_.network(b).check();
    }
    double network_loss(std::size_t b) {
        auto lock = guard();
        network(b);  // (the index checked)
        py::gil_scoped_release release;
        return loss_of(b);
    }

    void restore(std::size_t b, std::int64_t steps, bool recorded_current, const Doubles& losses,
                 const py::array_t<std::int64_t, py::array::c_style>& loss_steps,
                 const std::optional<Doubles>& diagnostics) {
        auto lock = guard();
        Trainer<T>& trainer = network(b);
        trainer.restore(steps, recorded_current,
                        history_from(losses, loss_steps, diagnostics, trainer.history().diagnostic_count));
    }

    py::object product(std::size_t b) {
        auto lock = guard();
        const Index dim = phis_.shape(1);
        Array<T> out({dim, dim});
        if (!network(b).product(out.mutable_data())) return py::none();
        return std::move(out);
    }

    bool resume(std::size_t b, const Array<T>& psi) {
        auto lock = guard();
        matrix_view<T>(psi, "product", phis_.shape(1));
        Trainer<T>& trainer = network(b);
        py::gil_scoped_release release;
        return trainer.resume(psi.data());
    }

private:
    double loss_of(std::size_t b) {
        try {
            return batch_.network(b).loss();
        } catch (const std::invalid_argument& error) {
            throw std::invalid_argument("network " + std::to_string(b) + ": " + error.what());
        }
    }

    Trainer<T>& network(std::size_t b) {
        if (b >= batch_.size()) throw py::index_error("network index out of range");
        return batch_.network(b);
    }

    std::unique_lock<std::mutex> guard() {
        std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
        if (!lock.owns_lock()) {
            throw std::runtime_error("this batch is in use by another thread (use it from one thread at a time)");
        }
        return lock;
    }

    Array<T> layers_, phis_;
    BatchTrainer<T> batch_;
    std::mutex mutex_;
    std::atomic<bool> cancelled_{false};
};

template <class T>
void register_for(py::module_& m, const char* suffix) {
    using S = BatchSession<T>;
    py::class_<S>(m, (std::string("BatchSession_") + suffix).c_str())
        .def("run", &S::run, py::arg("max_steps"), py::arg("tol"), py::arg("record_final"))
        .def("cancel", &S::cancel)
        .def_property_readonly("uses_lanes", [](const S& session) { return session.uses_lanes(); })
        .def("set_lr", &S::set_lr, py::arg("lr"))
        .def("set_record_every", &S::set_record_every, py::arg("record_every"))
        .def_property_readonly("steps", &S::steps)
        .def_property_readonly("recorded_current", &S::recorded_current)
        .def_property_readonly("history_sizes", &S::history_sizes)
        .def("history", &S::history, py::arg("b"), py::arg("start") = 0)
        .def("record_current", &S::record_current, py::arg("b"))
        .def("loss", &S::loss)
        .def("network_loss", &S::network_loss, py::arg("b"))
        .def("check", &S::check)
        .def("restore", &S::restore, py::arg("b"), py::arg("steps"), py::arg("recorded_current"), py::arg("losses"),
             py::arg("loss_steps"), py::arg("diagnostics") = py::none())
        .def("product", &S::product, py::arg("b"))
        .def("resume", &S::resume, py::arg("b"), py::arg("psi").noconvert());

    m.def(
        "batch_session",
        [](Array<T> layers, Array<T> phis, const std::string& method, const Doubles& lr, const Doubles& gamma,
           const Doubles& psi, const Doubles& kappa, std::int64_t record_every, int threads, bool diagnostics,
           const std::string& isa, const std::string& backend, const std::string& split, const std::string& lanes,
           const std::optional<Doubles>& identity_scales) {
            const auto context = call_context(threads, isa, backend, split);
            const LanePolicy policy = parse_lane_policy(lanes);
            return std::make_unique<S>(std::move(layers), std::move(phis), method, lr, gamma, psi, kappa, record_every,
                                       context, diagnostics, policy, identity_scales);
        },
        py::arg("layers").noconvert(), py::arg("phis").noconvert(), py::arg("method"), py::arg("lr"), py::arg("gamma"),
        py::arg("psi"), py::arg("kappa"), py::arg("record_every") = 1, py::arg("threads") = 1,
        py::arg("diagnostics") = false, py::arg("isa") = "auto", py::arg("backend") = "auto",
        py::arg("split") = "timed", py::arg("lanes") = "auto", py::arg("identity_scales") = py::none(),
        "B independent training runs on `layers` (B, L, d, d), stepped in place, towards `phis` (B, d, d); with "
        "identity_scales, network b's layers are first set to identity_scales[b]·I.");
}

}  // namespace

void register_batch(py::module_& m) {
    m.def(
        "lane_width",
        [](bool single, const std::string& isa, Index dim) {
            const auto context = call_context(1, isa);
            return single ? lane_width<float>(context, dim) : lane_width<double>(context, dim);
        },
        py::arg("single") = false, py::arg("isa") = "auto", py::arg("dim") = kLaneMaxDim,
        "Networks per lane group of a batch of dim × dim networks on this machine's kernels (1: none).");
    m.def(
        "lanes_by_default",
        [](Index dim, bool single, const std::string& isa, const std::string& vector_core) {
            const auto context = call_context(1, isa);
            VectorCore core = VectorCore::whole;
            try {
                core = parse_vector_core(vector_core);
            } catch (const std::invalid_argument& error) {
                throw py::value_error(std::string("vector_core: ") + error.what());
            }
            return single ? lanes_by_default<float>(context, dim, core) : lanes_by_default<double>(context, dim, core);
        },
        py::arg("dim"), py::arg("single") = false, py::arg("isa") = "auto", py::arg("vector_core") = "auto",
        "Whether a batch of gd or penalty networks of dim × dim runs in lane groups unless told otherwise, on a CPU "
        "whose 512-bit operations run 'whole' or in two 'halves' ('auto': this one's).");
    py::list names;
    for (const char* name : {"converged", "max_steps", "diverged", "interrupted"}) names.append(name);
    m.attr("status_names") = py::tuple(names);  // the codes of BatchSession.run, in the order of Status
    register_for<double>(m, "float64");
    register_for<float>(m, "float32");
}

}  // namespace deeplinear::bindings
