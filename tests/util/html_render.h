// Test helper: render an HTML file with headless Chromium into a PNG and measure how much of it
// is drawn, so a test can tell a real report from a blank page. Header-only; link PNG::PNG.
//
//   testutil::RenderStats st = testutil::render_html("out/report.html", "out/report.png");
//   EXPECT_GT(st.non_white, 0.02);   // fraction of pixels that are not white
//   EXPECT_GT(st.colors, 5);         // distinct RGB colours
//
// render_html throws std::runtime_error with a one-line reason when Chromium is missing (the
// message says how to install it), fails, times out (60 s) or writes no PNG: a test should
// FAIL on it, not skip. Chromium runs with a fresh temporary HOME / profile each time.
#pragma once
#include <gtest/gtest.h>
#include <png.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdint>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

namespace shrink::testutil {

struct RenderStats {
  int width = 0, height = 0;
  double non_white = 0;  ///< fraction of pixels with some channel below 245 (of 255)
  int64_t colors = 0;    ///< distinct RGB colours
};

/// Decodes a PNG (any colour type, via libpng's simplified API as 8-bit RGB) and measures it.
inline RenderStats png_stats(const std::string& png_path) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, png_path.c_str()))
    throw std::runtime_error("cannot read PNG " + png_path + ": " + img.message);
  img.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> px(PNG_IMAGE_SIZE(img));
  png_color white{255, 255, 255};
  if (!png_image_finish_read(&img, &white, px.data(), 0, nullptr)) {
    const std::string msg = img.message;
    png_image_free(&img);
    throw std::runtime_error("cannot decode PNG " + png_path + ": " + msg);
  }
  RenderStats st;
  st.width = static_cast<int>(img.width);
  st.height = static_cast<int>(img.height);
  const size_t n = static_cast<size_t>(img.width) * img.height;
  std::unordered_set<uint32_t> colors;
  size_t drawn = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t r = px[3 * i], g = px[3 * i + 1], b = px[3 * i + 2];
    drawn += r < 245 || g < 245 || b < 245;
    colors.insert(uint32_t{r} << 16 | uint32_t{g} << 8 | b);
  }
  st.non_white = n ? static_cast<double>(drawn) / static_cast<double>(n) : 0;
  st.colors = static_cast<int64_t>(colors.size());
  return st;
}

/// The Chromium binary on PATH ("chromium", "chromium-browser" or "google-chrome"), or "".
inline std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const std::string cmd = std::string("command -v ") + name + " > /dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return name;
  }
  return "";
}

/// Screenshots `html_path` (a file) at width x height pixels into `png_path` and measures it.
inline RenderStats render_html(const std::string& html_path, const std::string& png_path, int width = 1200,
                               int height = 2000) {
  namespace fs = std::filesystem;
  const std::string chromium = find_chromium();
  if (chromium.empty())
    throw std::runtime_error("chromium not found on PATH: install it with `make deps` (scripts/deps.sh) or "
                             "`apt-get install chromium`");
  if (!fs::exists(html_path)) throw std::runtime_error("no such HTML file: " + html_path);
  std::string tmpl = (fs::temp_directory_path() / "shrink-chromium-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  const fs::path home = tmpl, log = home / "chromium.log";
  fs::remove(png_path);
  const auto q = [](const std::string& s) {  // single-quoted for the shell
    std::string o = "'";
    for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return o + "'";
  };
  const std::string cmd =
      "HOME=" + q(home.string()) + " XDG_CONFIG_HOME=" + q((home / "config").string()) +
      " XDG_CACHE_HOME=" + q((home / "cache").string()) + " timeout 60 " + chromium +
      " --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-background-networking"
      " --no-first-run --hide-scrollbars --user-data-dir=" + q((home / "profile").string()) +
      " --screenshot=" + q(fs::absolute(png_path).string()) + " --window-size=" + std::to_string(width) + "," +
      std::to_string(height) + " " + q("file://" + fs::absolute(html_path).string()) + " > " + q(log.string()) +
      " 2>&1 < /dev/null";
  const int st = std::system(cmd.c_str());
  const int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::string tail;
  {
    std::ifstream f(log);
    std::stringstream ss;
    ss << f.rdbuf();
    tail = ss.str();
    if (tail.size() > 600) tail = "..." + tail.substr(tail.size() - 600);
  }
  std::error_code ec;
  fs::remove_all(home, ec);
  if (code == 124) throw std::runtime_error("chromium timed out after 60 s rendering " + html_path);
  if (code != 0 || !fs::exists(png_path))
    throw std::runtime_error("chromium failed (exit " + std::to_string(code) + ") rendering " + html_path +
                             ", no screenshot; output: " + tail);
  return png_stats(png_path);
}

/// A report and a blank page rendered side by side (the control that the measure can fail).
struct RenderedWithControl {
  RenderStats report, blank;
};

/// Renders `html_path` and a blank page (written into `work_dir`) into PNGs in `work_dir`.
/// Throws like render_html.
inline RenderedWithControl render_with_blank_control(const std::string& html_path, const std::string& work_dir) {
  namespace fs = std::filesystem;
  const fs::path dir = work_dir;
  {
    std::ofstream f(dir / "blank.html");
    f << "<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>\n";
  }
  RenderedWithControl r;
  r.report = render_html(html_path, (dir / "report.png").string());
  r.blank = render_html((dir / "blank.html").string(), (dir / "blank.png").string());
  return r;
}

/// The check every report test makes: `html_path` rendered at 1200 px is drawn (over 2% of the
/// pixels not white, more than 5 colours) while the blank control page is not. Returns the
/// report's figures for further checks (zero when rendering failed, which is a test failure).
inline RenderStats expect_report_drawn(const std::string& html_path, const std::string& work_dir) {
  RenderedWithControl r;
  try {
    r = render_with_blank_control(html_path, work_dir);
  } catch (const std::exception& ex) {
    ADD_FAILURE() << ex.what();
    return {};
  }
  EXPECT_EQ(r.report.width, 1200);
  EXPECT_GT(r.report.non_white, 0.02);
  EXPECT_GT(r.report.colors, 5);
  EXPECT_LT(r.blank.non_white, 0.001);
  EXPECT_LE(r.blank.colors, 2);
  std::cerr << html_path << ": " << r.report.non_white * 100 << "% non-white, " << r.report.colors
            << " colours; blank: " << r.blank.non_white * 100 << "%, " << r.blank.colors << "\n";
  return r.report;
}

}  // namespace shrink::testutil
