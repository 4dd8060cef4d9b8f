#include "svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace shoal::cli {
namespace {

constexpr double kPlotW = 470, kH = 400, kLeft = 64, kTop = 40, kBottom = 50;
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

// The y range and layout every chart shares (open() draws the title, y grid, axis titles and
// legend from it); `y` maps a value to its pixel row.
struct Frame {
  double lo = 0, hi = 1, step = 0.1;
  double right = 170, w = kLeft + kPlotW + 170;  // the legend's column, and the whole width
  double y(double v) const { return kH - kBottom - (v - lo) / (hi - lo) * (kH - kTop - kBottom); }
};

double nice_step(double span) {
  const double raw = span / 6, magnitude = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10 * magnitude;
}

Frame frame_for(const Chart& chart) {
  double lo = 1e300, hi = -1e300;
  for (const ChartSeries& s : chart.series) {
    for (const ChartPoint& p : s.points) {
      lo = std::min({lo, p.y, p.lo < p.hi ? p.lo : p.y});
      hi = std::max({hi, p.y, p.lo < p.hi ? p.hi : p.y});
    }
  }
  if (lo > hi) lo = 0, hi = 1;
  if (chart.from_zero) lo = std::min(0.0, lo);
  if (hi - lo < 1e-12) hi = lo + (lo == 0 ? 1 : std::fabs(lo) * 0.1);
  Frame f;
  f.step = nice_step(hi - lo);
  f.lo = std::floor(lo / f.step) * f.step;
  f.hi = std::ceil(hi / f.step) * f.step;
  if (f.hi - f.lo < f.step) f.hi = f.lo + f.step;
  size_t longest = 0;
  for (const ChartSeries& s : chart.series) longest = std::max(longest, s.name.size());
  f.right = std::max(120.0, 40 + 7.0 * static_cast<double>(longest));
  f.w = kLeft + kPlotW + f.right;
  return f;
}

std::string open(const Chart& chart, const Frame& f) {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
                "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                f.w, kH);
  std::string s = buf;
  s += "<text x=\"" + std::to_string(static_cast<int>(kLeft)) + "\" y=\"22\" font-size=\"14\">" + escape(chart.title) + "</text>\n";
  for (double v = f.lo; v <= f.hi + f.step * 1e-6; v += f.step) {
    std::snprintf(buf, sizeof(buf),
                  "<line x1=\"%g\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%g%s</text>\n",
                  kLeft, f.w - f.right, f.y(v), f.y(v), kLeft - 6, f.y(v) + 4,
                  chart.percent ? std::round(v * 1e4) / 100 : std::round(v / f.step * 1e6) / 1e6 * f.step,
                  chart.percent ? "%" : "");
    s += buf;
  }
  std::snprintf(buf, sizeof(buf), "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">", (kLeft + f.w - f.right) / 2, kH - 12);
  s += buf + escape(chart.x_label) + "</text>\n";
  std::snprintf(buf, sizeof(buf), "<text transform=\"translate(16 %g) rotate(-90)\" text-anchor=\"middle\">",
                (kTop + kH - kBottom) / 2);
  s += buf + escape(chart.y_label) + "</text>\n";
  for (size_t i = 0; i < chart.series.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "<rect x=\"%g\" y=\"%g\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%g\" y=\"%g\">",
                  f.w - f.right + 15, kTop + 20.0 * static_cast<double>(i + 1), kColors[i % 8], f.w - f.right + 32,
                  kTop + 20.0 * static_cast<double>(i + 1) + 10);
    s += buf + escape(chart.series[i].name) + "</text>\n";
  }
  return s;
}

std::string tip(const Chart& chart, const ChartSeries& s, const ChartPoint& p) {
  char value[64];
  std::snprintf(value, sizeof(value), chart.percent ? "%.2f%%" : "%.4g", chart.percent ? p.y * 100 : p.y);
  std::string text = s.name + ": " + value;
  if (p.lo < p.hi) {
    std::snprintf(value, sizeof(value), chart.percent ? " [%.2f, %.2f]" : " [%.4g, %.4g]", chart.percent ? p.lo * 100 : p.lo,
                  chart.percent ? p.hi * 100 : p.hi);
    text += value;
  }
  return "<title>" + escape(p.tip.empty() ? text : text + " (" + p.tip + ")") + "</title>";
}

std::string error_bar(const Frame& f, double x, const ChartPoint& p) {
  if (!(p.lo < p.hi)) return "";
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fh8M%.1f %.1fh8\" stroke=\"#333\" fill=\"none\"/>\n", x, f.y(p.lo),
                f.y(p.hi), x - 4, f.y(p.lo), x - 4, f.y(p.hi));
  return buf;
}

}  // namespace

std::string line_chart(const Chart& chart) {
  const Frame f = frame_for(chart);
  double xlo = 1e300, xhi = -1e300;
  for (const ChartSeries& s : chart.series) {
    for (const ChartPoint& p : s.points) xlo = std::min(xlo, p.x), xhi = std::max(xhi, p.x);
  }
  if (xlo > xhi) xlo = 0, xhi = 1;
  const double xstep = nice_step(std::max(xhi - xlo, 1e-9));
  xlo = std::floor(xlo / xstep) * xstep, xhi = std::ceil(xhi / xstep) * xstep;
  if (xhi <= xlo) xhi = xlo + xstep;
  const auto X = [&](double v) { return kLeft + (v - xlo) / (xhi - xlo) * (f.w - kLeft - f.right); };
  std::string s = open(chart, f);
  char buf[512];
  for (double x = xlo; x <= xhi + xstep * 1e-6; x += xstep) {
    std::snprintf(buf, sizeof(buf), "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%g</text>\n", X(x), kH - kBottom + 18,
                  std::round(x / xstep * 1e6) / 1e6 * xstep);
    s += buf;
  }
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const ChartSeries& series = chart.series[i];
    std::string line;
    for (const ChartPoint& p : series.points) {
      std::snprintf(buf, sizeof(buf), "%.1f,%.1f ", X(p.x), f.y(p.y));
      line += buf;
      s += error_bar(f, X(p.x), p);
      std::snprintf(buf, sizeof(buf), "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\">", X(p.x), f.y(p.y), kColors[i % 8]);
      s += buf + tip(chart, series, p) + "</circle>\n";
    }
    s += "<polyline points=\"" + line + "\" fill=\"none\" stroke=\"" + kColors[i % 8] + "\" stroke-width=\"1.5\"/>\n";
  }
  return s + "</svg>\n";
}

std::string bar_chart(const Chart& chart) {
  const Frame f = frame_for(chart);
  const double groups = static_cast<double>(std::max<size_t>(1, chart.categories.size()));
  const double group_w = (f.w - kLeft - f.right) / groups;
  const double bar_w = group_w * 0.8 / static_cast<double>(std::max<size_t>(1, chart.series.size()));
  std::string s = open(chart, f);
  char buf[512];
  for (size_t c = 0; c < chart.categories.size(); ++c) {
    std::snprintf(buf, sizeof(buf), "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">",
                  kLeft + group_w * (static_cast<double>(c) + 0.5), kH - kBottom + 18);
    s += buf + escape(chart.categories[c]) + "</text>\n";
  }
  const double base = f.y(std::max(f.lo, 0.0));
  for (size_t i = 0; i < chart.series.size(); ++i) {
    for (const ChartPoint& p : chart.series[i].points) {
      const double x = kLeft + group_w * (p.x + 0.1) + bar_w * static_cast<double>(i);
      const double top = std::min(base, f.y(p.y)), height = std::fabs(base - f.y(p.y));
      std::snprintf(buf, sizeof(buf), "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">", x, top,
                    bar_w * 0.92, height, kColors[i % 8]);
      s += buf + tip(chart, chart.series[i], p) + "</rect>\n" + error_bar(f, x + bar_w * 0.46, p);
    }
  }
  return s + "</svg>\n";
}

}  // namespace shoal::cli
