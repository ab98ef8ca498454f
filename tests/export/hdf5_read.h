// Test helpers: read datasets and attributes of an HDF5 file with the HDF5 C API (the weight files
// of export/hdf5_writer.h). Failures are test failures, the result then empty.
//
//   hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
//   auto w = h5read::dataset<int8_t>(f, "/conv1/weight", H5T_NATIVE_INT8);
#pragma once
#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include <hdf5/serial/hdf5.h>
#endif

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace shrink::h5read {

template <typename T>
std::vector<T> dataset(hid_t file, const std::string& path, hid_t mem_type) {
  hid_t ds = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  EXPECT_GE(ds, 0) << path;
  if (ds < 0) return {};
  hid_t sp = H5Dget_space(ds);
  std::vector<T> v(static_cast<size_t>(H5Sget_simple_extent_npoints(sp)));
  EXPECT_GE(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0) << path;
  H5Sclose(sp);
  H5Dclose(ds);
  return v;
}

inline std::vector<int> int_attr(hid_t file, const std::string& obj, const char* name) {
  hid_t a = H5Aopen_by_name(file, obj.c_str(), name, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(a, 0) << obj << " " << name;
  if (a < 0) return {};
  hid_t sp = H5Aget_space(a);
  std::vector<int> v(static_cast<size_t>(H5Sget_simple_extent_npoints(sp)));
  H5Aread(a, H5T_NATIVE_INT, v.data());
  H5Sclose(sp);
  H5Aclose(a);
  return v;
}

inline std::string str_attr(hid_t file, const std::string& obj, const char* name) {
  hid_t a = H5Aopen_by_name(file, obj.c_str(), name, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(a, 0) << obj << " " << name;
  if (a < 0) return {};
  hid_t t = H5Aget_type(a);
  std::string s(H5Tget_size(t), '\0');
  H5Aread(a, t, s.data());
  H5Tclose(t);
  H5Aclose(a);
  return s.substr(0, s.find('\0'));
}

}  // namespace shrink::h5read
