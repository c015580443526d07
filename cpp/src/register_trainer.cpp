// Bindings: the steppable training state (trainer.hpp) behind deeplinear.Trainer and
// deeplinear.spectral_gd. Conversion, the GIL and Ctrl-C only; the bookkeeping is trainer.hpp's.
#include "bindings.hpp"

#include <deeplinear/engine.hpp>
#include <deeplinear/trainer.hpp>

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

namespace deeplinear::bindings {

namespace {

const char* status_name(Status status) {
    switch (status) {
        case Status::converged: return "converged";
        case Status::max_steps: return "max_steps";
        case Status::diverged: return "diverged";
        case Status::interrupted: return "interrupted";
    }
    return "unknown";
}

Method parse_method(const std::string& name) {
    for (std::size_t i = 0; i < kMethodCount; ++i) {
        if (name == kMethodNames[i]) return static_cast<Method>(i);
    }
    std::string names;
    for (std::size_t i = 0; i < kMethodCount; ++i) names += (i ? ", '" : "'") + std::string(kMethodNames[i]) + "'";
    throw py::value_error("method must be one of " + names + ", got '" + name + "'");
}

// A trainer with the arrays it steps (kept alive here) and a guard against use from two threads
// at once: a second caller gets a RuntimeError instead of corrupting the run.
template <class T>
class Session {
public:
    Session(py::array state, py::array target, std::unique_ptr<Engine<T>> engine, const TrainerSettings& settings,
            std::size_t size)
        : state_(std::move(state)), target_(std::move(target)),
          trainer_(static_cast<T*>(state_.mutable_data()), size, std::move(engine), settings) {}

    // (status, steps taken, ℓ of the final state)
    py::tuple run(std::int64_t max_steps, double tol, bool record_final) {
        auto lock = guard();
        if (cancelled_.exchange(false)) {  // a cancel() between calls stops this one before its first step
            return py::make_tuple(status_name(Status::interrupted), std::int64_t{0}, trainer_.loss());
        }
        std::optional<py::error_already_set> pending;
        LoopResult result;
        {
            py::gil_scoped_release release;
            const Interrupt interrupted = [this, &pending] {
                if (cancelled_.exchange(false)) return true;
                py::gil_scoped_acquire acquire;
                if (PyErr_CheckSignals() == 0) return false;
                pending.emplace();  // fetches the exception raised by the signal handler
                return true;
            };
            result = trainer_.run(max_steps, tol, record_final, interrupted);
        }
        // A KeyboardInterrupt became status "interrupted" (the Python layer warns); any other
        // exception raised by a signal handler propagates, the state being consistent.
        if (pending && !pending->matches(PyExc_KeyboardInterrupt)) throw *pending;
        return py::make_tuple(status_name(result.status), result.steps, result.loss);
    }

    // Stops the running call at its next poll, as Ctrl-C would, from any thread; between calls, the
    // next call before its first step (once: the call that it stops consumes it).
    void cancel() { cancelled_.store(true); }

    double record_current() {
        auto lock = guard();
        py::gil_scoped_release release;
        return trainer_.record_current();
    }

    double loss() {
        auto lock = guard();
        py::gil_scoped_release release;
        return trainer_.loss();
    }

    // Notes a change of the layers made from outside since the last call (as the next call
    // would): then recorded_current is false. ValueError unless the layers are finite.
    void check() {
        auto lock = guard();
        trainer_.check();
    }

    void set_lr(double lr) {
        auto lock = guard();
        trainer_.set_lr(lr);
    }
    void set_record_every(std::int64_t record_every) {
        auto lock = guard();
        trainer_.set_record_every(record_every);
    }

    std::int64_t steps() const { return trainer_.steps(); }
    bool recorded_current() const { return trainer_.recorded_current(); }
    std::size_t history_size() const { return trainer_.history().size(); }

    // Records [start, end): (losses, loss_steps, diagnostics (records × columns) or None).
    py::tuple history(std::size_t start) {
        auto lock = guard();
        return history_tuple(trainer_.history(), start);
    }

    void restore(std::int64_t steps, bool recorded_current, const py::array_t<double, py::array::c_style>& losses,
                 const py::array_t<std::int64_t, py::array::c_style>& loss_steps,
                 const std::optional<py::array_t<double, py::array::c_style>>& diagnostics) {
        auto lock = guard();
        trainer_.restore(steps, recorded_current,
                         history_from(losses, loss_steps, diagnostics, trainer_.history().diagnostic_count));
    }

    // Power projection's Ψ of the current layers, or None (engine.hpp).
    py::object product() {
        auto lock = guard();
        const Index dim = target_.shape(0);
        Array<T> out({dim, dim});
        if (!trainer_.product(out.mutable_data())) return py::none();
        return std::move(out);
    }

    bool resume(const Array<T>& psi) {
        auto lock = guard();
        const Index dim = target_.shape(0);
        matrix_view<T>(psi, "product", dim);
        py::gil_scoped_release release;
        return trainer_.resume(psi.data());
    }

private:
    std::unique_lock<std::mutex> guard() {
        std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
        if (!lock.owns_lock()) {
            throw std::runtime_error(
                "this training run is in use by another thread (a Trainer is not thread-safe: "
                "use it from one thread at a time)");
        }
        return lock;
    }

    py::array state_, target_;
    Trainer<T> trainer_;
    std::mutex mutex_;
    std::atomic<bool> cancelled_{false};
};

template <class T>
void register_for(py::module_& m, const char* suffix) {
    using S = Session<T>;
    py::class_<S>(m, (std::string("Session_") + suffix).c_str())
        .def("run", &S::run, py::arg("max_steps"), py::arg("tol"), py::arg("record_final"))
        .def("cancel", &S::cancel)
        .def("set_lr", &S::set_lr, py::arg("lr"))
        .def("set_record_every", &S::set_record_every, py::arg("record_every"))
        .def("record_current", &S::record_current)
        .def("loss", &S::loss)
        .def("check", &S::check)
        .def_property_readonly("steps", &S::steps)
        .def_property_readonly("recorded_current", &S::recorded_current)
        .def_property_readonly("history_size", &S::history_size)
        .def("history", &S::history, py::arg("start") = 0)
        .def("restore", &S::restore, py::arg("steps"), py::arg("recorded_current"), py::arg("losses"),
             py::arg("loss_steps"), py::arg("diagnostics") = py::none())
        .def("product", &S::product)
        .def("resume", &S::resume, py::arg("psi").noconvert());

    m.def(
        "session",
        [](Array<T>& layers_array, const Array<T>& phi_array, const std::string& method, double lr, double gamma,
           double psi, double kappa, std::int64_t record_every, int threads, bool diagnostics, const std::string& isa,
           const std::string& backend, const std::string& split) {
            const auto layers = mutable_layers_view<T>(layers_array, "layers");
            matrix_view<T>(phi_array, "phi", layers.dim);
            const auto context = call_context(threads, isa, backend, split);
            MethodParams<T> params;
            params.method = parse_method(method);
            params.lr = static_cast<T>(lr);
            params.gamma = static_cast<T>(gamma);
            params.psi = static_cast<T>(psi);
            params.kappa = static_cast<T>(kappa);
            TrainerSettings settings;
            settings.record_every = record_every;
            settings.diagnostics = diagnostics;
            auto engine = make_engine<T>(layers, phi_array.data(), params, context);
            return std::make_unique<S>(layers_array, phi_array, std::move(engine), settings,
                                       static_cast<std::size_t>(layers.size()));
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert(), py::arg("method"), py::arg("lr"),
        py::arg("gamma") = 0.0, py::arg("psi") = 0.0, py::arg("kappa") = 0.0, py::arg("record_every") = 1,
        py::arg("threads") = 1, py::arg("diagnostics") = false, py::arg("isa") = "auto", py::arg("backend") = "auto",
        py::arg("split") = "timed",
        "A training run on `layers` (stepped in place) towards `phi` (both kept alive by it). isa, backend "
        "and split force the kernels (tests; see _core.kernel_for).");

    m.def(
        "spectral_session",
        [](Array<T>& a_array, const Array<T>& mu_array, Index depth, double lr, std::int64_t record_every) {
            if (a_array.ndim() != 1 || mu_array.ndim() != 1 || a_array.shape(0) != mu_array.shape(0) ||
                a_array.shape(0) < 1) {
                throw py::value_error("a and mu must be 1-D arrays of the same length d >= 1");
            }
            if (!a_array.writeable()) throw py::value_error("a must be writable");
            if (depth < 1) throw py::value_error("depth must be >= 1");
            TrainerSettings settings;
            settings.record_every = record_every;
            auto engine = make_spectral_engine<T>(a_array.mutable_data(), mu_array.data(), a_array.shape(0), depth,
                                                  static_cast<T>(lr));
            return std::make_unique<S>(a_array, mu_array, std::move(engine), settings,
                                       static_cast<std::size_t>(a_array.shape(0)));
        },
        py::arg("a").noconvert(), py::arg("mu").noconvert(), py::arg("depth"), py::arg("lr"),
        py::arg("record_every") = 1,
        "The exact spectral dynamics (Lemmas 5–6) of the layer eigenvalues `a` (stepped in place).");
}

}  // namespace

void register_trainer(py::module_& m) {
    py::list names;
    for (std::size_t i = 0; i < kMethodCount; ++i) names.append(kMethodNames[i]);
    m.attr("method_names") = py::tuple(names);
    register_for<double>(m, "float64");  // float64 first: pybind11 takes the first overload that matches
    register_for<float>(m, "float32");
}

}  // namespace deeplinear::bindings
