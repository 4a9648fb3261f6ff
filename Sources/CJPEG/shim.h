// libjpeg-turbo (Debian: libjpeg62-turbo-dev), and one decoding function around it. libjpeg reports errors by
// calling error_exit, which must not return; Swift cannot catch a longjmp, so the read runs here in C behind a
// setjmp and comes back as a status + message. A truncated file is only a warning to libjpeg (it pads the
// image with grey); here it is an error, as in PIL.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

/// A decoded JPEG: 8-bit samples, `channels` 1 (grayscale) or 3 (RGB, converted from YCbCr by libjpeg), rows
/// packed. `cmyk` is set (and nothing decoded) for CMYK/YCCK files.
typedef struct {
  unsigned int width, height, channels;
  int cmyk;
  unsigned char *pixels;  // malloc'd (free() it); NULL on failure
  char message[JMSG_LENGTH_MAX + 64];
} Blip2JPEGImage;

typedef struct {
  struct jpeg_error_mgr manager;
  jmp_buf jump;
  Blip2JPEGImage *image;
} Blip2JPEGErrors;

static void blip2_jpeg_fail(j_common_ptr info) {
  Blip2JPEGErrors *errors = (Blip2JPEGErrors *)info->err;
  char text[JMSG_LENGTH_MAX];
  (*info->err->format_message)(info, text);
  snprintf(errors->image->message, sizeof errors->image->message, "%s", text);
  longjmp(errors->jump, 1);
}

// Warnings are ignored, except the end of the data before the end of the image (a truncated file).
static void blip2_jpeg_message(j_common_ptr info, int level) {
  if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) blip2_jpeg_fail(info);
}

/// Decodes the JPEG in `data[0..<size]` into `image`; returns 1, or 0 with `image->message` set. At most
/// `maxPixels` pixels.
static inline int blip2_jpeg_decode(const unsigned char *data, size_t size, unsigned long maxPixels, Blip2JPEGImage *image) {
  memset(image, 0, sizeof *image);
  if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
    snprintf(image->message, sizeof image->message, "not a JPEG file (no JPEG start-of-image marker)");
    return 0;
  }
  struct jpeg_decompress_struct info;
  Blip2JPEGErrors errors;
  unsigned char *volatile pixels = NULL;
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = blip2_jpeg_fail;
  errors.manager.emit_message = blip2_jpeg_message;
  errors.image = image;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    free(pixels);
    image->pixels = NULL;
    return 0;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, (unsigned long)size);
  jpeg_read_header(&info, TRUE);
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    image->cmyk = 1;
    snprintf(image->message, sizeof image->message, "CMYK JPEG images are not supported (convert to RGB first)");
    jpeg_destroy_decompress(&info);
    return 0;
  }
  if ((unsigned long)info.image_width * (unsigned long)info.image_height > maxPixels) {
    snprintf(image->message, sizeof image->message, "the image has too many pixels");
    jpeg_destroy_decompress(&info);
    return 0;
  }
  info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  size_t rowBytes = (size_t)info.output_width * info.output_components;
  pixels = (unsigned char *)malloc(rowBytes * info.output_height);
  if (pixels == NULL) {
    snprintf(image->message, sizeof image->message, "out of memory");
    jpeg_destroy_decompress(&info);
    return 0;
  }
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = pixels + (size_t)info.output_scanline * rowBytes;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  image->width = info.output_width;
  image->height = info.output_height;
  image->channels = (unsigned int)info.output_components;
  image->pixels = pixels;
  jpeg_destroy_decompress(&info);
  return 1;
}
