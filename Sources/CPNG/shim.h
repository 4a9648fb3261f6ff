// libpng (Debian: libpng-dev), and one decoding function around it. libpng reports errors by longjmp, which
// Swift cannot catch, so the whole read runs here in C behind a setjmp and comes back as a status + message.
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// A decoded PNG: `channels` samples per pixel (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA; palettes expanded to RGB
/// or RGBA, gray below 8 bits widened to 8), `bitDepth` 8 or 16 (16-bit samples big-endian), rows packed.
typedef struct {
  unsigned int width, height, channels, bitDepth;
  unsigned char *pixels;  // malloc'd (free() it); NULL on failure
  char message[256];      // why it failed
} Blip2PNGImage;

typedef struct { const unsigned char *data; size_t size, offset; } Blip2PNGSource;

static void blip2_png_read_data(png_structp png, png_bytep out, size_t length) {
  Blip2PNGSource *source = (Blip2PNGSource *)png_get_io_ptr(png);
  if (source->size - source->offset < length) png_error(png, "the file ends before the image does (truncated)");
  memcpy(out, source->data + source->offset, length);
  source->offset += length;
}

static void blip2_png_error(png_structp png, png_const_charp message) {
  Blip2PNGImage *image = (Blip2PNGImage *)png_get_error_ptr(png);
  snprintf(image->message, sizeof image->message, "%s", message);
  png_longjmp(png, 1);
}

static void blip2_png_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

/// Decodes the PNG in `data[0..<size]` into `image`; returns 1, or 0 with `image->message` set. At most
/// `maxPixels` pixels (a guard against absurd headers).
static inline int blip2_png_decode(const unsigned char *data, size_t size, unsigned long maxPixels, Blip2PNGImage *image) {
  memset(image, 0, sizeof *image);
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
    snprintf(image->message, sizeof image->message, "not a PNG file (no PNG signature)");
    return 0;
  }
  Blip2PNGSource source = { data, size, 0 };
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, image, blip2_png_error, blip2_png_warning);
  if (png == NULL) { snprintf(image->message, sizeof image->message, "libpng could not start"); return 0; }
  png_infop info = png_create_info_struct(png);
  unsigned char *volatile pixels = NULL;
  png_bytep *volatile rows = NULL;
  if (info == NULL || setjmp(png_jmpbuf(png))) {
    if (info == NULL) snprintf(image->message, sizeof image->message, "libpng could not start");
    free(rows);
    free(pixels);
    png_destroy_read_struct(&png, info ? &info : NULL, NULL);
    image->pixels = NULL;
    return 0;
  }
  png_set_read_fn(png, &source, blip2_png_read_data);
  png_read_info(png, info);
  png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  int colorType = png_get_color_type(png, info), bitDepth = png_get_bit_depth(png, info);
  if ((unsigned long)width * (unsigned long)height > maxPixels) png_error(png, "the image has too many pixels");
  if (colorType == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (colorType == PNG_COLOR_TYPE_GRAY && bitDepth < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  size_t rowBytes = png_get_rowbytes(png, info);
  pixels = (unsigned char *)malloc(rowBytes * height);
  rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
  if (pixels == NULL || rows == NULL) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + y * rowBytes;
  png_read_image(png, rows);
  png_read_end(png, NULL);
  image->width = width;
  image->height = height;
  image->channels = png_get_channels(png, info);
  image->bitDepth = png_get_bit_depth(png, info);
  image->pixels = pixels;
  free(rows);
  png_destroy_read_struct(&png, &info, NULL);
  return 1;
}
