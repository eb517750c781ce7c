/* SPDX-License-Identifier: Apache-2.0 */
/* Data formats no pickle-based loader runs, recognised by content. */
#ifndef CKPT_FORMATS_DATA_H
#define CKPT_FORMATS_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "ckptscan.h"

/* The format of buf[0..len) when it is one of text, json, gguf, onnx,
 * hdf5, tflite, msgpack, png, jpeg, gif, webp; CKPT_FORMAT_UNKNOWN
 * otherwise. O(len): text and JSON are checked whole, MessagePack object by
 * object (one map or array tiling the buffer), the others by a prefix (ONNX
 * by its top-level fields). */
ckpt_format data_format(const uint8_t *buf, size_t len);

/* 1 when buf has a safetensors layout: an 8-byte little-endian header
 * length that fits, then '{'. */
int safetensors_shape(const uint8_t *buf, size_t len);
/* For a buffer with safetensors_shape: NULL when the header is valid as
 * the safetensors library requires (a JSON object of tensors with a known
 * dtype, a shape and data_offsets that tile the data section exactly, and
 * an optional __metadata__ of strings), else why not. */
const char *safetensors_check(const uint8_t *buf, size_t len);

#endif
