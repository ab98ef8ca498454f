// Test helper: render an HTML file with headless Chromium into a PNG and measure how much of it
// is drawn, so a test can tell a real report from a blank page. Header-only; link PNG::PNG.
//
//   testutil::RenderStats st = testutil::render_html("out/report.html", "out/report.png");
//   EXPECT_GT(st.non_white, 0.02);   // fraction of pixels that are not white
//   EXPECT_GT(st.colors, 5);         // distinct RGB colours
//   std::string text = testutil::page_text("out/report.html");  // what a reader sees, no tags
//
// render_html throws std::runtime_error with a one-line reason when Chromium is missing (the
// message says how to install it), fails, times out (60 s) or writes no PNG: a test should
// FAIL on it, not skip. Chromium runs with a fresh temporary HOME / profile each time.
#pragma once
#include <gtest/gtest.h>
#include <png.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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

/// Runs Chromium headless on `html_path` (a file) with `mode` ("--screenshot=..." or
/// "--dump-dom"), standard output to `stdout_path`. Throws with a one-line reason (missing
/// Chromium, timeout after 60 s, a failure: the tail of Chromium's own messages).
inline void run_chromium(const std::string& html_path, const std::string& mode, const std::string& stdout_path,
                         int width, int height) {
  namespace fs = std::filesystem;
  const std::string chromium = find_chromium();
  if (chromium.empty())
    throw std::runtime_error("chromium not found on PATH: install it with `make deps` (scripts/deps.sh) or "
                             "`apt-get install chromium`");
  if (!fs::exists(html_path)) throw std::runtime_error("no such HTML file: " + html_path);
  std::string tmpl = (fs::temp_directory_path() / "shrink-chromium-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  const fs::path home = tmpl, log = home / "chromium.log";
  const auto q = [](const std::string& s) {  // single-quoted for the shell
    std::string o = "'";
    for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return o + "'";
  };
  const std::string cmd =
      "HOME=" + q(home.string()) + " XDG_CONFIG_HOME=" + q((home / "config").string()) +
      " XDG_CACHE_HOME=" + q((home / "cache").string()) + " timeout 60 " + chromium +
      " --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-background-networking"
      " --no-first-run --hide-scrollbars --user-data-dir=" + q((home / "profile").string()) + " " + q(mode) +
      " --window-size=" + std::to_string(width) + "," + std::to_string(height) + " " +
      q("file://" + fs::absolute(html_path).string()) + " > " + q(stdout_path) + " 2> " + q(log.string()) +
      " < /dev/null";
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
  if (code != 0) throw std::runtime_error("chromium failed (exit " + std::to_string(code) + ") rendering " + html_path +
                                          "; output: " + tail);
}

/// Screenshots `html_path` (a file) at width x height pixels into `png_path` and measures it.
inline RenderStats render_html(const std::string& html_path, const std::string& png_path, int width = 1200,
                               int height = 2000) {
  namespace fs = std::filesystem;
  fs::remove(png_path);
  run_chromium(html_path, "--screenshot=" + fs::absolute(png_path).string(), "/dev/null", width, height);
  if (!fs::exists(png_path)) throw std::runtime_error("chromium wrote no screenshot of " + html_path);
  return png_stats(png_path);
}

/// The text of `html_path` as Chromium parsed it (its DOM after loading, tags and the contents
/// of <style> / <script> removed, entities for &amp; &lt; &gt; &nbsp; decoded, runs of white
/// space as one space): what a reader of the page sees.
inline std::string page_text(const std::string& html_path) {
  namespace fs = std::filesystem;
  const fs::path dom = fs::temp_directory_path() / ("shrink-dom-" + std::to_string(::getpid()) + ".html");
  run_chromium(html_path, "--dump-dom", dom.string(), 1200, 2000);
  std::ifstream f(dom);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string html = ss.str();
  fs::remove(dom);
  for (const char* tag : {"style", "script"}) {  // drop element contents that are not text
    const std::string open = std::string("<") + tag, close = std::string("</") + tag + ">";
    for (size_t a; (a = html.find(open)) != std::string::npos;) {
      const size_t b = html.find(close, a);
      html.erase(a, b == std::string::npos ? std::string::npos : b + close.size() - a);
    }
  }
  std::string text;
  bool in_tag = false;
  for (char c : html) {
    if (c == '<') in_tag = true;
    else if (c == '>') { in_tag = false; text += ' '; }
    else if (!in_tag) text += c;
  }
  for (const auto& [ent, ch] : {std::pair<std::string, std::string>{"&nbsp;", " "}, {"&lt;", "<"}, {"&gt;", ">"},
                                {"&amp;", "&"}})
    for (size_t p; (p = text.find(ent)) != std::string::npos;) text.replace(p, ent.size(), ch);
  std::string out;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  return out;
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
