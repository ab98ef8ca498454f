#include "compress/report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "compress/ir/fileio.h"
#include "compress/ir/quant_state.h"
#include "export/runtime_eval.h"

namespace shrink::report {
namespace {

std::string accuracy_text(double a) { return a < 0 ? "n/a" : format_double("%.4f", a); }

nlohmann::json accuracy_json(double a) { return a < 0 ? nlohmann::json(nullptr) : nlohmann::json(a); }

std::string sparsity_text(const ir::LayerAnalysis& l) {
  return l.params > 0 ? format_double("%.1f%%", 100.0 * static_cast<double>(l.params - l.nonzero_params) /
                                                    static_cast<double>(l.params))
                      : std::string();
}

/// "yes (flash 105,196 B, RAM 31,032 B)" from a fits_on entry.
std::string fits_text(const nlohmann::json& f) {
  return std::string(f.value("fits", false) ? "yes" : "no") + " (flash " + thousands(f.value("flash", int64_t{0})) +
         " B, RAM " + thousands(f.value("ram", int64_t{0})) + " B)";
}

/// "csr-codebook + huffman", "" when not exported.
std::string storage_text(const LayerFormat& f) { return f.storage + (f.huffman ? " + huffman" : ""); }

/// The per-layer rows of report.json's "final": analysis joined with the layer formats.
nlohmann::json layers_json(const RunReport& r) {
  nlohmann::json out = nlohmann::json::array();
  for (const ir::LayerAnalysis& l : r.analysis.layers) {
    nlohmann::json j = {{"name", l.name},       {"op", l.op},   {"params", l.params},
                        {"nonzero", l.nonzero_params}, {"macs", l.macs}};
    auto it = r.layer_formats.find(l.name);
    if (it != r.layer_formats.end()) {
      const LayerFormat& f = it->second;
      j["weights"] = f.weights;
      j["activations"] = f.activations;
      j["storage"] = f.storage.empty() ? nlohmann::json(nullptr) : nlohmann::json(storage_text(f));
      j["bytes"] = f.bytes < 0 ? nlohmann::json(nullptr) : nlohmann::json(f.bytes);
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

std::string format_double(const char* printf_format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, printf_format, v);
  return buf;
}

std::string human_bytes(int64_t b) {
  if (b < 1024) return std::to_string(b) + " B";
  if (b < 1024 * 1024) return format_double("%.1f KiB", b / 1024.0);
  return format_double("%.2f MiB", b / (1024.0 * 1024.0));
}

std::string thousands(int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return (v < 0 ? "-" : "") + out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string svg_bar_chart(const std::vector<std::string>& labels, const std::vector<double>& values,
                          double vmax, const std::string& y_label) {
  const int bar = 56, gap = 24, left = 56, top = 16, plot_h = 200, bottom = 56;
  const int n = static_cast<int>(values.size());
  const int width = left + n * (bar + gap) + gap;
  const int height = top + plot_h + bottom;
  if (!(vmax > 0)) vmax = 1;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" viewBox=\"0 0 " << width << ' ' << height << "\" role=\"img\" aria-label=\""
    << html_escape(y_label) << "\">\n";
  // Axis with 5 grid lines.
  for (int t = 0; t <= 4; ++t) {
    double v = vmax * t / 4;
    int y = top + plot_h - static_cast<int>(std::lround(plot_h * t / 4.0));
    o << "<line x1=\"" << left << "\" y1=\"" << y << "\" x2=\"" << width << "\" y2=\"" << y
      << "\" stroke=\"#ddd\"/><text x=\"" << left - 6 << "\" y=\"" << y + 4
      << "\" font-size=\"11\" text-anchor=\"end\">" << format_double("%.2f", v) << "</text>\n";
  }
  o << "<text x=\"12\" y=\"" << top + plot_h / 2 << "\" font-size=\"11\" transform=\"rotate(-90 12 "
    << top + plot_h / 2 << ")\" text-anchor=\"middle\">" << html_escape(y_label) << "</text>\n";
  for (int i = 0; i < n; ++i) {
    int x = left + gap + i * (bar + gap);
    double v = values[static_cast<size_t>(i)];
    std::string label = i < static_cast<int>(labels.size()) ? labels[static_cast<size_t>(i)] : "";
    if (v >= 0) {
      int h = static_cast<int>(std::lround(plot_h * std::min(v, vmax) / vmax));
      o << "<rect x=\"" << x << "\" y=\"" << top + plot_h - h << "\" width=\"" << bar << "\" height=\""
        << h << "\" fill=\"#4a7bd0\"><title>" << html_escape(label) << ": " << format_double("%.4f", v)
        << "</title></rect>\n<text x=\"" << x + bar / 2 << "\" y=\"" << top + plot_h - h - 4
        << "\" font-size=\"11\" text-anchor=\"middle\">" << format_double("%.4f", v) << "</text>\n";
    } else {
      o << "<text x=\"" << x + bar / 2 << "\" y=\"" << top + plot_h - 4
        << "\" font-size=\"11\" text-anchor=\"middle\">n/a</text>\n";
    }
    o << "<text x=\"" << x + bar / 2 << "\" y=\"" << top + plot_h + 16
      << "\" font-size=\"11\" text-anchor=\"middle\">" << html_escape(label) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

// ---- Generic charts ----

namespace {

const char* const kPalette[] = {"#4a7bd0", "#d0693a", "#3a9d5d", "#8e5bc0", "#c0392b", "#7f8c8d"};

/// Approximate width in pixels of a text at font-size 11 (sans-serif).
int text_px(const std::string& s) { return static_cast<int>(s.size() * 6.5) + 2; }

/// Round tick step (1, 2, 2.5, 5 x 10^k) splitting `span` into about `n` intervals.
double nice_step(double span, int n) {
  const double raw = span / n;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0}) {
    if (m * p >= raw * (1 - 1e-9)) return m * p;
  }
  return 10 * p;
}

/// Decimals needed to print v exactly (up to 6).
int decimals_of(double v) {
  for (int d = 0; d < 6; ++d) {
    const double s = std::fabs(v) * std::pow(10.0, d);
    if (std::fabs(s - std::round(s)) < 1e-6 * std::max(1.0, s)) return d;
  }
  return 6;
}

std::string number_text(double v, int decimals) {
  if (std::fabs(v) >= 1e15) return format_double("%.3g", v);
  if (decimals == 0 && std::fabs(v) >= 10000) return thousands(std::llround(v));
  const std::string f = "%." + std::to_string(decimals) + "f";
  return format_double(f.c_str(), v);
}

/// One axis: data range [lo, hi] mapped onto pixels [p0, p1], with its ticks.
struct Scale {
  double lo = 0, hi = 1, p0 = 0, p1 = 1;
  std::vector<double> ticks;
  int decimals = 0;
  double px(double v) const {
    const double t = (std::clamp(v, lo, hi) - lo) / (hi - lo);
    return p0 + t * (p1 - p0);
  }
  std::string tick_text(double v) const { return number_text(v, decimals); }
};

Scale make_scale(const ChartAxis& a, const std::vector<double>& data) {
  Scale s;
  double lo = INFINITY, hi = -INFINITY;
  for (double v : data) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  for (double t : a.ticks) {
    if (std::isfinite(t)) lo = std::min(lo, t), hi = std::max(hi, t);
  }
  if (a.min && std::isfinite(*a.min)) lo = *a.min;
  if (a.max && std::isfinite(*a.max)) hi = *a.max;
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(lo))) {
    const double d = lo != 0 ? std::fabs(lo) * 0.05 : 0.5;
    lo -= d, hi += d;
  }
  if (!a.ticks.empty()) {
    for (double t : a.ticks) {
      if (std::isfinite(t) && t >= lo && t <= hi) {
        s.ticks.push_back(t);
        s.decimals = std::max(s.decimals, decimals_of(t));
      }
    }
  } else {
    const double step = nice_step(hi - lo, 4);
    if (!a.min) lo = std::floor(lo / step + 1e-9) * step;
    if (!a.max) hi = std::ceil(hi / step - 1e-9) * step;
    for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-6; t += step)
      s.ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
    s.decimals = decimals_of(step);
  }
  s.lo = lo, s.hi = hi;
  return s;
}

struct LegendItem {
  std::string text, color;
  enum Kind { Line, Dashed, Dot, Ring } kind = Line;
};

int legend_rows(const std::vector<LegendItem>& items, int width) {
  int rows = items.empty() ? 0 : 1, x = 8;
  for (const LegendItem& it : items) {
    const int w = 30 + text_px(it.text) + 12;
    if (x + w > width && x > 8) ++rows, x = 8;
    x += w;
  }
  return rows;
}

void draw_legend(std::ostream& o, const std::vector<LegendItem>& items, int width, int y0) {
  int x = 8, y = y0;
  for (const LegendItem& it : items) {
    const int w = 30 + text_px(it.text) + 12;
    if (x + w > width && x > 8) x = 8, y += 16;
    const std::string c = html_escape(it.color);
    switch (it.kind) {
      case LegendItem::Line:
      case LegendItem::Dashed:
        o << "<line x1=\"" << x << "\" y1=\"" << y << "\" x2=\"" << x + 22 << "\" y2=\"" << y << "\" stroke=\"" << c
          << "\" stroke-width=\"2\"" << (it.kind == LegendItem::Dashed ? " stroke-dasharray=\"5 3\"" : "") << "/>";
        if (it.kind == LegendItem::Line) o << "<circle cx=\"" << x + 11 << "\" cy=\"" << y << "\" r=\"3\" fill=\"" << c << "\"/>";
        break;
      case LegendItem::Dot:
        o << "<circle cx=\"" << x + 11 << "\" cy=\"" << y << "\" r=\"3\" fill=\"" << c << "\"/>";
        break;
      case LegendItem::Ring:
        o << "<circle cx=\"" << x + 11 << "\" cy=\"" << y << "\" r=\"6\" fill=\"none\" stroke=\"" << c
          << "\" stroke-width=\"2.5\"/>";
        break;
    }
    o << "<text x=\"" << x + 28 << "\" y=\"" << y + 4 << "\" font-size=\"11\">" << html_escape(it.text) << "</text>\n";
    x += w;
  }
}

/// The plot area, axes, grid, titles and legend shared by the line and scatter charts.
struct Frame {
  int width = 0, height = 0, left = 0, top = 0, right = 0, bottom = 0;
  Scale xs, ys;
};

Frame open_frame(std::ostream& o, const std::string& title, const ChartAxis& xa, const ChartAxis& ya,
                 const std::vector<double>& xdata, const std::vector<double>& ydata,
                 const std::vector<LegendItem>& legend, int width, int height) {
  Frame f;
  f.width = width = std::max(width, 160);
  f.xs = make_scale(xa, xdata);
  f.ys = make_scale(ya, ydata);
  int label_w = 0;
  for (double t : f.ys.ticks) label_w = std::max(label_w, text_px(f.ys.tick_text(t)));
  f.left = 24 + label_w + 6;
  f.right = width - 16;
  f.top = title.empty() ? 12 : 30;
  const int rows = legend_rows(legend, width);
  f.height = height = std::max(height, f.top + 120 + rows * 16);
  f.bottom = height - 44 - rows * 16;
  // A margin inside the frame keeps points at the ends of the x range off the border.
  f.xs.p0 = f.left + 12, f.xs.p1 = f.right - 12;
  f.ys.p0 = f.bottom, f.ys.p1 = f.top;

  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" viewBox=\"0 0 " << width << ' ' << height << "\" role=\"img\" aria-label=\"" << html_escape(title)
    << "\" font-family=\"system-ui,sans-serif\">\n";
  if (!title.empty())
    o << "<text x=\"" << width / 2 << "\" y=\"18\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\">"
      << html_escape(title) << "</text>\n";
  for (double t : f.ys.ticks) {
    const double y = f.ys.px(t);
    o << "<line x1=\"" << f.left << "\" y1=\"" << y << "\" x2=\"" << f.right << "\" y2=\"" << y
      << "\" stroke=\"#e4e4e4\"/><text x=\"" << f.left - 5 << "\" y=\"" << y + 4
      << "\" font-size=\"11\" text-anchor=\"end\">" << html_escape(f.ys.tick_text(t)) << "</text>\n";
  }
  for (double t : f.xs.ticks) {
    const double x = f.xs.px(t);
    o << "<line x1=\"" << x << "\" y1=\"" << f.bottom << "\" x2=\"" << x << "\" y2=\"" << f.bottom + 4
      << "\" stroke=\"#999\"/><text x=\"" << x << "\" y=\"" << f.bottom + 16
      << "\" font-size=\"11\" text-anchor=\"middle\">" << html_escape(f.xs.tick_text(t)) << "</text>\n";
  }
  o << "<rect x=\"" << f.left << "\" y=\"" << f.top << "\" width=\"" << f.right - f.left << "\" height=\""
    << f.bottom - f.top << "\" fill=\"none\" stroke=\"#999\"/>\n";
  o << "<text x=\"" << (f.left + f.right) / 2 << "\" y=\"" << f.bottom + 32
    << "\" font-size=\"11\" text-anchor=\"middle\">" << html_escape(xa.label) << "</text>\n";
  const int ymid = (f.top + f.bottom) / 2;
  o << "<text x=\"12\" y=\"" << ymid << "\" font-size=\"11\" transform=\"rotate(-90 12 " << ymid
    << ")\" text-anchor=\"middle\">" << html_escape(ya.label) << "</text>\n";
  draw_legend(o, legend, width, f.bottom + 50);
  return f;
}

/// Dashed lines across the plot; their labels are in the legend (and the line's tooltip).
void draw_ref_lines(std::ostream& o, const Frame& f, const std::vector<RefLine>& lines) {
  for (const RefLine& r : lines) {
    if (!std::isfinite(r.y)) continue;
    const double y = f.ys.px(r.y);
    o << "<line x1=\"" << f.left << "\" y1=\"" << y << "\" x2=\"" << f.right << "\" y2=\"" << y << "\" stroke=\""
      << html_escape(r.color) << "\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"><title>" << html_escape(r.label)
      << "</title></line>\n";
  }
}

std::string tooltip(const std::string& label, const Frame& f, double x, double y) {
  return "<title>" + html_escape((label.empty() ? "" : label + ": ") + f.xs.tick_text(x) + ", " +
                                 number_text(y, std::max(f.ys.decimals + 2, 4))) +
         "</title>";
}

std::string pick_color(const std::string& c, size_t i) {
  return c.empty() ? kPalette[i % (sizeof kPalette / sizeof *kPalette)] : c;
}

/// "#rrggbb" -> {r, g, b} in [0, 255]; anything else is mid grey.
std::array<double, 3> parse_rgb(const std::string& c) {
  if (c.size() != 7 || c[0] != '#') return {128, 128, 128};
  std::array<double, 3> rgb{};
  for (int k = 0; k < 3; ++k) {
    const std::string h = c.substr(1 + 2 * k, 2);
    char* end = nullptr;
    rgb[k] = static_cast<double>(std::strtol(h.c_str(), &end, 16));
    if (end != h.c_str() + 2) return {128, 128, 128};
  }
  return rgb;
}

/// The colour at t in [0, 1] along evenly spaced stops.
std::array<double, 3> color_at(const std::vector<std::string>& stops, double t) {
  if (stops.empty()) return {128, 128, 128};
  if (stops.size() == 1) return parse_rgb(stops[0]);
  t = std::clamp(t, 0.0, 1.0) * static_cast<double>(stops.size() - 1);
  const size_t i = std::min(static_cast<size_t>(t), stops.size() - 2);
  const double u = t - static_cast<double>(i);
  const auto a = parse_rgb(stops[i]), b = parse_rgb(stops[i + 1]);
  return {a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1]), a[2] + u * (b[2] - a[2])};
}

std::string css_rgb(const std::array<double, 3>& c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", static_cast<int>(std::lround(c[0])),
                static_cast<int>(std::lround(c[1])), static_cast<int>(std::lround(c[2])));
  return buf;
}

bool is_dark(const std::array<double, 3>& c) { return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] < 128; }

}  // namespace

std::string svg_line_chart(const LineChart& c) {
  std::vector<double> xs, ys;
  std::vector<LegendItem> legend;
  for (size_t i = 0; i < c.series.size(); ++i) {
    const ChartSeries& s = c.series[i];
    xs.insert(xs.end(), s.x.begin(), s.x.end());
    ys.insert(ys.end(), s.y.begin(), s.y.end());
    legend.push_back({s.name, pick_color(s.color, i), s.dashed ? LegendItem::Dashed : LegendItem::Line});
  }
  for (const RefLine& r : c.ref_lines) {
    ys.push_back(r.y);
    legend.push_back({r.label, r.color, LegendItem::Dashed});
  }
  std::ostringstream o;
  const Frame f = open_frame(o, c.title, c.x, c.y, xs, ys, legend, c.width, c.height);
  draw_ref_lines(o, f, c.ref_lines);
  for (size_t i = 0; i < c.series.size(); ++i) {
    const ChartSeries& s = c.series[i];
    const std::string color = html_escape(pick_color(s.color, i));
    const size_t n = std::min(s.x.size(), s.y.size());
    std::string points, dots;
    auto flush = [&] {
      if (!points.empty())
        o << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\""
          << (s.dashed ? " stroke-dasharray=\"5 3\"" : "") << " points=\"" << points << "\"/>\n";
      points.clear();
    };
    for (size_t k = 0; k < n; ++k) {
      if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) {
        flush();  // a gap
        continue;
      }
      const double x = f.xs.px(s.x[k]), y = f.ys.px(s.y[k]);
      points += format_double("%.1f,", x) + format_double("%.1f ", y);
      dots += "<circle cx=\"" + format_double("%.1f", x) + "\" cy=\"" + format_double("%.1f", y) +
              "\" r=\"3.5\" fill=\"" + color + "\">" + tooltip(s.name, f, s.x[k], s.y[k]) + "</circle>\n";
    }
    flush();
    o << dots;
  }
  o << "</svg>\n";
  return o.str();
}

std::string svg_scatter_chart(const ScatterChart& c) {
  const size_t n = std::min(c.xs.size(), c.ys.size());
  auto valid = [&](size_t i) { return i < n && std::isfinite(c.xs[i]) && std::isfinite(c.ys[i]); };
  const std::string dot_color = "#9bb5e0", front_color = "#d0693a";
  std::vector<double> ys(c.ys.begin(), c.ys.begin() + static_cast<std::ptrdiff_t>(n));
  std::vector<LegendItem> legend = {{c.points_label, dot_color, LegendItem::Dot}};
  if (!c.front.empty()) legend.push_back({c.front_label, front_color, LegendItem::Line});
  for (const ScatterMark& m : c.marks) legend.push_back({m.label, m.color, LegendItem::Ring});
  for (const RefLine& r : c.ref_lines) {
    ys.push_back(r.y);
    legend.push_back({r.label, r.color, LegendItem::Dashed});
  }
  std::ostringstream o;
  const Frame f = open_frame(o, c.title, c.x, c.y, std::vector<double>(c.xs.begin(), c.xs.begin() + static_cast<std::ptrdiff_t>(n)),
                             ys, legend, c.width, c.height);
  draw_ref_lines(o, f, c.ref_lines);
  auto label_of = [&](size_t i) { return i < c.point_labels.size() ? c.point_labels[i] : std::string(); };
  for (size_t i = 0; i < n; ++i) {
    if (!valid(i)) continue;
    o << "<circle cx=\"" << format_double("%.1f", f.xs.px(c.xs[i])) << "\" cy=\"" << format_double("%.1f", f.ys.px(c.ys[i]))
      << "\" r=\"3.5\" fill=\"" << dot_color << "\">" << tooltip(label_of(i), f, c.xs[i], c.ys[i]) << "</circle>\n";
  }
  std::vector<size_t> front;
  for (size_t i : c.front)
    if (valid(i)) front.push_back(i);
  std::stable_sort(front.begin(), front.end(), [&](size_t a, size_t b) { return c.xs[a] < c.xs[b]; });
  if (!front.empty()) {
    o << "<polyline fill=\"none\" stroke=\"" << front_color << "\" stroke-width=\"2\" points=\"";
    for (size_t i : front) o << format_double("%.1f,", f.xs.px(c.xs[i])) << format_double("%.1f ", f.ys.px(c.ys[i]));
    o << "\"/>\n";
    for (size_t i : front)
      o << "<circle cx=\"" << format_double("%.1f", f.xs.px(c.xs[i])) << "\" cy=\"" << format_double("%.1f", f.ys.px(c.ys[i]))
        << "\" r=\"4\" fill=\"" << front_color << "\">" << tooltip(label_of(i), f, c.xs[i], c.ys[i]) << "</circle>\n";
  }
  for (const ScatterMark& m : c.marks) {
    if (!valid(m.index)) continue;
    const double x = f.xs.px(c.xs[m.index]), y = f.ys.px(c.ys[m.index]);
    const bool at_right = x > f.right - 140, at_top = y - f.top < 24;
    const std::string col = html_escape(m.color);
    o << "<circle cx=\"" << format_double("%.1f", x) << "\" cy=\"" << format_double("%.1f", y) << "\" r=\"7\" fill=\"none\" stroke=\""
      << col << "\" stroke-width=\"2.5\"/><text x=\"" << format_double("%.1f", at_right ? x - 10 : x + 10) << "\" y=\""
      << format_double("%.1f", at_top ? y + 20 : y - 9) << "\" font-size=\"11\" font-weight=\"bold\" fill=\"" << col << "\" text-anchor=\""
      << (at_right ? "end" : "start") << "\">" << html_escape(m.label) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::string svg_heat_map(const HeatMap& h) {
  int row_w = text_px(h.row_label), col_w = 48;
  for (const std::string& r : h.rows) row_w = std::max(row_w, text_px(r));
  for (const std::string& c : h.cols) col_w = std::max(col_w, text_px(c) + 10);
  const int cell_h = 24, left = 12 + row_w + 8;
  const int top = (h.title.empty() ? 8 : 30) + (h.col_label.empty() ? 0 : 16) + 18;
  const int nr = static_cast<int>(h.rows.size()), nc = static_cast<int>(h.cols.size());
  const int legend_y = top + nr * cell_h + 18;
  const int steps = 40, step_w = 5;
  const int width = std::max({left + nc * col_w + 12, 12 + steps * step_w + 140, 200});
  const int height = legend_y + 44;
  const double span = h.vmax > h.vmin ? h.vmax - h.vmin : 1.0;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\" viewBox=\"0 0 "
    << width << ' ' << height << "\" role=\"img\" aria-label=\"" << html_escape(h.title)
    << "\" font-family=\"system-ui,sans-serif\">\n";
  if (!h.title.empty())
    o << "<text x=\"12\" y=\"18\" font-size=\"13\" font-weight=\"bold\">" << html_escape(h.title) << "</text>\n";
  if (!h.col_label.empty())
    o << "<text x=\"" << left + nc * col_w / 2 << "\" y=\"" << top - 22 << "\" font-size=\"11\" text-anchor=\"middle\">"
      << html_escape(h.col_label) << "</text>\n";
  o << "<text x=\"12\" y=\"" << top - 6 << "\" font-size=\"11\" font-style=\"italic\">" << html_escape(h.row_label)
    << "</text>\n";
  for (int c = 0; c < nc; ++c)
    o << "<text x=\"" << left + c * col_w + col_w / 2 << "\" y=\"" << top - 6
      << "\" font-size=\"11\" font-weight=\"bold\" text-anchor=\"middle\">" << html_escape(h.cols[static_cast<size_t>(c)])
      << "</text>\n";
  for (int r = 0; r < nr; ++r) {
    const auto ri = static_cast<size_t>(r);
    const int y = top + r * cell_h;
    o << "<text x=\"12\" y=\"" << y + cell_h / 2 + 4 << "\" font-size=\"11\">" << html_escape(h.rows[ri]) << "</text>\n";
    for (int c = 0; c < nc; ++c) {
      const auto ci = static_cast<size_t>(c);
      const double v = ri < h.values.size() && ci < h.values[ri].size() ? h.values[ri][ci] : NAN;
      const bool ok = std::isfinite(v);
      const auto rgb = ok ? color_at(h.colors, (v - h.vmin) / span) : std::array<double, 3>{221, 221, 221};
      std::string text = ri < h.text.size() && ci < h.text[ri].size() ? h.text[ri][ci] : "";
      if (text.empty()) text = ok ? format_double("%.3g", v) : "n/a";
      const int x = left + c * col_w;
      o << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << col_w << "\" height=\"" << cell_h << "\" fill=\""
        << css_rgb(rgb) << "\" stroke=\"#fff\"><title>" << html_escape(h.rows[ri] + " / " + h.cols[ci] + ": " + text)
        << "</title></rect><text x=\"" << x + col_w / 2 << "\" y=\"" << y + cell_h / 2 + 4
        << "\" font-size=\"11\" text-anchor=\"middle\" fill=\"" << (is_dark(rgb) ? "#fff" : "#222") << "\">"
        << html_escape(text) << "</text>\n";
    }
  }
  // Colour legend: the scale in `steps` swatches, its end values and its title.
  o << "<text x=\"12\" y=\"" << legend_y << "\" font-size=\"11\">" << html_escape(h.scale_label) << "</text>\n";
  const int lx = 12 + text_px(h.vmin_text.empty() ? format_double("%.3g", h.vmin) : h.vmin_text) + 6;
  for (int k = 0; k < steps; ++k)
    o << "<rect x=\"" << lx + k * step_w << "\" y=\"" << legend_y + 8 << "\" width=\"" << step_w
      << "\" height=\"12\" fill=\"" << css_rgb(color_at(h.colors, (k + 0.5) / steps)) << "\"/>";
  o << "\n<text x=\"" << lx - 6 << "\" y=\"" << legend_y + 18 << "\" font-size=\"11\" text-anchor=\"end\">"
    << html_escape(h.vmin_text.empty() ? format_double("%.3g", h.vmin) : h.vmin_text) << "</text><text x=\""
    << lx + steps * step_w + 6 << "\" y=\"" << legend_y + 18 << "\" font-size=\"11\">"
    << html_escape(h.vmax_text.empty() ? format_double("%.3g", h.vmax) : h.vmax_text) << "</text>\n</svg>\n";
  return o.str();
}

std::string html_head(const std::string& title, const std::string& extra_css) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" + html_escape(title) +
         "</title>\n<style>\n"
         "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}\n"
         "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px}\n"
         "td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f0f0f0}\n"
         ".big{font-size:1.3em}\n" +
         extra_css + "</style></head><body>\n";
}

nlohmann::json to_json(const RunReport& r) {
  nlohmann::json stages = nlohmann::json::array();
  for (const StageRow& s : r.stages) {
    stages.push_back({{"index", s.index},
                      {"name", s.name},
                      {"seconds", s.seconds},
                      {"accuracy", accuracy_json(s.accuracy)},
                      {"accuracy_split", s.accuracy_split},
                      {"accuracy_n", s.accuracy_n},
                      {"params", s.params},
                      {"macs", s.macs},
                      {"size_bytes", s.size_bytes},
                      {"bytes", s.shr_bytes < 0 ? nlohmann::json(nullptr) : nlohmann::json(s.shr_bytes)},
                      {"model_file", s.model_file},
                      {"files", s.files},
                      {"extra", s.extra}});
  }
  nlohmann::json files = nlohmann::json::array();
  for (const FileRow& f : r.files) files.push_back({{"path", f.path}, {"bytes", f.bytes}});
  auto opt = [](double v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); };
  return {{"name", r.name},
          {"producer", r.producer},
          {"recipe", r.recipe},
          {"baseline",
           {{"accuracy", accuracy_json(r.baseline.accuracy)},
            {"n", r.baseline.n},
            {"bytes", r.baseline.bytes()},
            {"params", r.baseline.params},
            {"macs", r.baseline.macs}}},
          {"stages", stages},
          {"final",
           {{"accuracy", accuracy_json(r.test_accuracy)},
            {"runtime_accuracy", opt(r.runtime_accuracy)},
            {"bytes", r.deployed_bytes()},
            {"latency_us", opt(r.latency_us)},
            {"fits_on", r.fits_on},
            {"ratio", r.deployed_bytes() > 0 ? nlohmann::json(static_cast<double>(r.baseline.bytes()) /
                                                                static_cast<double>(r.deployed_bytes()))
                                               : nlohmann::json(nullptr)},
            {"test_accuracy", accuracy_json(r.test_accuracy)},
            {"test_n", r.test_n},
            {"size_bytes", r.size_bytes},
            {"model_file", r.model_file},
            {"params", r.analysis.params},
            {"macs", r.analysis.macs},
            {"files", files},
            {"layers", layers_json(r)}}},
          {"analysis", ir::analysis_to_json(r.analysis)}};
}

std::string to_html(const RunReport& r) {
  std::ostringstream o;
  o << html_head("shrink report: " + r.name);
  o << "<h1>" << html_escape(r.name) << "</h1>\n<p>" << html_escape(r.producer) << "</p>\n";

  const int64_t bytes = r.deployed_bytes();
  o << "<h2>Result</h2>\n<table><tr><th></th><th>baseline (fp32)</th><th>final</th></tr>\n"
    << "<tr><td>test accuracy</td><td class=\"n\">" << accuracy_text(r.baseline.accuracy) << "</td><td class=\"n\"><b>"
    << accuracy_text(r.test_accuracy) << "</b></td></tr>\n";
  if (r.runtime_accuracy >= 0)
    o << "<tr><td>test accuracy measured by the runtime</td><td></td><td class=\"n\"><b>"
      << accuracy_text(r.runtime_accuracy) << "</b></td></tr>\n";
  o << "<tr><td>bytes</td><td class=\"n\">" << thousands(r.baseline.bytes()) << "</td><td class=\"n\"><b>"
    << thousands(bytes) << "</b></td></tr>\n"
    << "<tr><td>MACs</td><td class=\"n\">" << thousands(r.baseline.macs) << "</td><td class=\"n\">"
    << thousands(r.analysis.macs) << "</td></tr>\n";
  if (r.latency_us >= 0)
    o << "<tr><td>runtime latency (median, batch 1, this host)</td><td></td><td class=\"n\">"
      << format_double("%.1f", r.latency_us) << " &micro;s</td></tr>\n";
  for (const auto& f : r.fits_on)
    o << "<tr><td>fits on " << html_escape(f.value("target", "")) << " (estimate)</td><td></td><td class=\"n\">"
      << fits_text(f) << "</td></tr>\n";
  o << "</table>\n<p class=\"big\">" << (bytes > 0 ? format_double("%.1f", static_cast<double>(r.baseline.bytes()) /
                                                                          static_cast<double>(bytes))
                                                    : std::string("n/a"))
    << "x smaller, accuracy " << (r.baseline.accuracy >= 0 && r.test_accuracy >= 0
                                      ? format_double("%+.2f", 100 * (r.test_accuracy - r.baseline.accuracy)) + " pp"
                                      : std::string("n/a"))
    << " (" << thousands(r.test_n) << " test images; final model file " << html_escape(r.model_file) << ")</p>\n";

  o << "<h2>Accuracy after every stage</h2>\n";
  std::vector<std::string> labels;
  std::vector<double> values;
  for (const StageRow& s : r.stages) {
    labels.push_back(std::to_string(s.index) + " " + s.name);
    values.push_back(s.accuracy);
  }
  labels.push_back("final (test)");
  values.push_back(r.test_accuracy);
  o << svg_bar_chart(labels, values, 1.0, "accuracy");

  o << "<h2>Stages</h2>\n<table><tr><th>#</th><th>stage</th><th>seconds</th><th>accuracy</th>"
       "<th>split</th><th>params</th><th>MACs</th><th>.shr bytes</th><th>model file</th><th>bytes</th></tr>\n";
  for (const StageRow& s : r.stages) {
    o << "<tr><td class=\"n\">" << s.index << "</td><td>" << html_escape(s.name) << "</td><td class=\"n\">"
      << format_double("%.1f", s.seconds) << "</td><td class=\"n\">" << accuracy_text(s.accuracy) << "</td><td>"
      << html_escape(s.accuracy_split) << "</td><td class=\"n\">" << thousands(s.params)
      << "</td><td class=\"n\">" << thousands(s.macs) << "</td><td class=\"n\">"
      << (s.shr_bytes < 0 ? std::string("n/a") : thousands(s.shr_bytes)) << "</td><td>" << html_escape(s.model_file)
      << "</td><td class=\"n\">" << thousands(s.size_bytes) << "</td></tr>\n";
  }
  o << "</table>\n";

  const ir::Analysis& a = r.analysis;
  const bool deployed = std::any_of(r.layer_formats.begin(), r.layer_formats.end(),
                                    [](const auto& kv) { return kv.second.bytes >= 0; });
  o << "<h2>Layers of the final model</h2>\n<p>formats as [IL.FL] (integer and fractional bits; the sign bit "
       "not counted); "
    << (deployed ? "storage and bytes of each layer's weights, bias and tables in the exported .shr, as the "
                   "runtime loaded it"
                 : "bytes: the weights at " + std::to_string(a.options.bits) + " bits (no .shr was exported)")
    << "; activation bytes of each layer's output</p>\n"
    << "<table><tr><th>layer</th><th>op</th><th>output shape</th><th>weights</th><th>activations</th>"
       "<th>storage</th><th>params</th><th>nonzero</th><th>sparsity</th><th>MACs</th><th>bytes</th>"
       "<th>activation bytes</th></tr>\n";
  int64_t total_bytes = 0;
  for (const ir::LayerAnalysis& l : a.layers) {
    auto it = r.layer_formats.find(l.name);
    const LayerFormat f = it != r.layer_formats.end() ? it->second : LayerFormat{};
    const int64_t bytes = deployed ? std::max<int64_t>(f.bytes, 0) : l.weight_bytes;
    total_bytes += bytes;
    o << "<tr><td>" << html_escape(l.name) << "</td><td>" << html_escape(l.op) << "</td><td>"
      << html_escape(ir::shape_str(l.out_shape)) << "</td><td>" << html_escape(f.weights) << "</td><td>"
      << html_escape(f.activations) << "</td><td>" << html_escape(storage_text(f)) << "</td><td class=\"n\">"
      << thousands(l.params) << "</td><td class=\"n\">" << thousands(l.nonzero_params) << "</td><td class=\"n\">"
      << sparsity_text(l) << "</td><td class=\"n\">" << thousands(l.macs) << "</td><td class=\"n\">"
      << (deployed && f.bytes < 0 ? std::string() : thousands(bytes)) << "</td><td class=\"n\">"
      << thousands(l.activation_bytes) << "</td></tr>\n";
  }
  o << "<tr><th>total</th><th></th><th></th><th></th><th></th><th></th><th>" << thousands(a.params) << "</th><th>"
    << thousands(a.nonzero_params) << "</th><th></th><th>" << thousands(a.macs) << "</th><th>"
    << thousands(total_bytes) << "</th><th>peak " << thousands(a.peak_activation_bytes) << "</th></tr>\n</table>\n";

  for (const Section& s : r.sections) o << "<h2>" << html_escape(s.title) << "</h2>\n" << s.html << "\n";

  o << "<h2>Files</h2>\n<table><tr><th>file</th><th>bytes</th></tr>\n";
  for (const FileRow& f : r.files)
    o << "<tr><td>" << html_escape(f.path) << "</td><td class=\"n\">" << thousands(f.bytes) << "</td></tr>\n";
  o << "</table>\n";

  o << "<h2>Recipe</h2>\n<pre>" << html_escape(r.recipe.dump(2)) << "</pre>\n</body></html>\n";
  return o.str();
}

void describe_layers(RunReport& r, const ir::Graph& g, const std::string& shr_path) {
  r.layer_formats.clear();
  const bool q = quant::is_quantized(g);
  const quant::ModelQuant mq = q ? quant::read_model_quant(g) : quant::ModelQuant{};
  for (const ir::Node& n : g.nodes) {
    LayerFormat f;
    const bool weighted = n.tensor("weight") != nullptr;
    auto it = mq.nodes.find(n.name);
    if (it != mq.nodes.end()) {
      f.weights = quant::weight_format_text(it->second);
      f.activations = quant::format_text(it->second.output);
    } else {
      f.weights = weighted ? "fp32" : "";
      f.activations = "fp32";
    }
    r.layer_formats[n.name] = f;
  }
  if (shr_path.empty()) return;
  for (const exporter::DeployedLayer& d : exporter::deployed_layers(shr_path)) {
    LayerFormat& f = r.layer_formats[d.name];
    f.storage = d.storage;
    f.huffman = d.huffman;
    f.bytes = d.bytes;
  }
}

int64_t RunReport::deployed_bytes() const {
  if (runtime_file_bytes >= 0) return runtime_file_bytes;
  if (!stages.empty() && stages.back().shr_bytes >= 0) return stages.back().shr_bytes;
  return size_bytes;
}

std::string to_markdown(const RunReport& r) {
  std::ostringstream o;
  auto ratio = [&] {
    const int64_t b = r.deployed_bytes();
    return b > 0 ? format_double("%.1f", static_cast<double>(r.baseline.bytes()) / static_cast<double>(b)) + "x" : "n/a";
  };
  o << "# " << r.name << "\n\n" << r.producer << "\n\n"
    << "| | baseline (fp32) | final |\n|---|---|---|\n"
    << "| test accuracy | " << accuracy_text(r.baseline.accuracy) << " | " << accuracy_text(r.test_accuracy) << " |\n";
  if (r.runtime_accuracy >= 0) o << "| runtime test accuracy | | " << accuracy_text(r.runtime_accuracy) << " |\n";
  o << "| bytes | " << thousands(r.baseline.bytes()) << " | " << thousands(r.deployed_bytes()) << " (" << ratio()
    << " smaller) |\n"
    << "| MACs | " << thousands(r.baseline.macs) << " | " << thousands(r.analysis.macs) << " |\n";
  if (r.latency_us >= 0) o << "| runtime latency, median, batch 1 | | " << format_double("%.1f", r.latency_us) << " us |\n";
  for (const auto& f : r.fits_on)
    o << "| fits on " << f.value("target", "") << " (estimate) | | " << fits_text(f) << " |\n";
  o << "\n## Stages\n\n| # | stage | seconds | accuracy | split | params | MACs | .shr bytes |\n"
    << "|---|---|---|---|---|---|---|---|\n";
  for (const StageRow& s : r.stages)
    o << "| " << s.index << " | " << s.name << " | " << format_double("%.1f", s.seconds) << " | "
      << accuracy_text(s.accuracy) << " | " << s.accuracy_split << " | " << thousands(s.params) << " | "
      << thousands(s.macs) << " | " << (s.shr_bytes < 0 ? std::string("n/a") : thousands(s.shr_bytes)) << " |\n";
  if (!r.layer_formats.empty()) {
    o << "\n## Layers\n\n| layer | op | weights | activations | storage | sparsity | bytes |\n"
      << "|---|---|---|---|---|---|---|\n";
    for (const ir::LayerAnalysis& l : r.analysis.layers) {
      auto it = r.layer_formats.find(l.name);
      if (it == r.layer_formats.end()) continue;
      const LayerFormat& f = it->second;
      o << "| " << l.name << " | " << l.op << " | " << f.weights << " | " << f.activations << " | "
        << storage_text(f) << " | " << sparsity_text(l) << " | " << (f.bytes < 0 ? std::string() : thousands(f.bytes))
        << " |\n";
    }
  }
  o << "\nFiles: report.json (for programs), report.html (charts and per-layer tables).\n";
  return o.str();
}

void write_report(const RunReport& r, const std::string& dir) {
  ir::write_file_atomic(dir + "/report.json", to_json(r).dump(2) + "\n");
  ir::write_file_atomic(dir + "/report.html", to_html(r));
  ir::write_file_atomic(dir + "/report.md", to_markdown(r));
}

}  // namespace shrink::report
