// Small SVG charts for reports a person would rather look at than read: lines over a numeric
// x axis, or bars grouped by category, both with optional error bars (a confidence interval)
// and a tooltip on every point. Used by `shoal profile` and `shoal experiment`.
#ifndef SHOAL_APPS_SVG_CHART_H_
#define SHOAL_APPS_SVG_CHART_H_

#include <string>
#include <vector>

namespace shoal::cli {

struct ChartPoint {
  double x = 0;  // line charts: the x value; bar charts: the category's index
  double y = 0;
  double lo = 0, hi = 0;  // an error bar from lo to hi, where lo < hi
  std::string tip;        // shown on hover
};

struct ChartSeries {
  std::string name;
  std::vector<ChartPoint> points;
};

struct Chart {
  std::string title, x_label, y_label;
  std::vector<ChartSeries> series;
  std::vector<std::string> categories;  // bar charts: one group of bars per category
  bool percent = false;                 // y values are fractions, labelled as percentages
  bool from_zero = false;               // the y axis starts at 0 (else at the data)
};

std::string line_chart(const Chart& chart);
std::string bar_chart(const Chart& chart);

}  // namespace shoal::cli

#endif  // SHOAL_APPS_SVG_CHART_H_
