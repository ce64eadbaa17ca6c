/* See include/shim.h for why each helper exists. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libipset/ipset.h>

#include "shim.h"

/* Appends printf-formatted text to the capture buffer, growing it as needed. */
static int capture_append(struct netplane_ipset_capture *c, const char *fmt, va_list args)
{
    va_list again;
    va_copy(again, args);
    int needed = vsnprintf(NULL, 0, fmt, args);
    if (needed < 0) {
        va_end(again);
        return needed;
    }
    size_t want = c->length + (size_t)needed + 1;
    if (want > c->capacity) {
        size_t capacity = c->capacity ? c->capacity : 4096;
        while (capacity < want)
            capacity *= 2;
        char *grown = realloc(c->text, capacity);
        if (grown == NULL) {
            c->truncated = 1;
            va_end(again);
            return -1;
        }
        c->text = grown;
        c->capacity = capacity;
    }
    vsnprintf(c->text + c->length, c->capacity - c->length, fmt, again);
    va_end(again);
    c->length += (size_t)needed;
    return needed;
}

/* ipset_print_outfn: libipset hands over its formatted listing buffer here. */
static int capture_print(struct ipset_session *session, void *p, const char *fmt, ...)
{
    (void)session;
    va_list args;
    va_start(args, fmt);
    int ret = capture_append(p, fmt, args);
    va_end(args);
    return ret < 0 ? -1 : 0;
}

/* ipset_custom_errorfn: records the message instead of printing it and exiting. Only the
   argv/line parser (ipset_parse_argv, ipset_parse_line) calls it. */
static int capture_custom_error(struct ipset *ipset, void *p, int status, const char *msg, ...)
{
    (void)ipset;
    (void)status;
    struct netplane_ipset_capture *c = p;
    if (msg != NULL) {
        va_list args;
        va_start(args, msg);
        vsnprintf(c->error, sizeof(c->error), msg, args);
        va_end(args);
    }
    return -1;
}

/* ipset_standard_errorfn: leaves the report in the session for the Swift side to read
   (ipset_session_report_msg); the default one prints it and may exit(). */
static int capture_standard_error(struct ipset *ipset, void *p)
{
    (void)ipset;
    (void)p;
    return -1;
}

int netplane_ipset_capture_install(struct ipset *ipset, struct netplane_ipset_capture *capture)
{
    return ipset_custom_printf(ipset, capture_custom_error, capture_standard_error,
                               capture_print, capture);
}

void netplane_ipset_capture_reset(struct netplane_ipset_capture *capture)
{
    capture->length = 0;
    capture->truncated = 0;
    capture->error[0] = '\0';
    if (capture->text != NULL)
        capture->text[0] = '\0';
}

void netplane_ipset_capture_free(struct netplane_ipset_capture *capture)
{
    free(capture->text);
    capture->text = NULL;
    capture->length = 0;
    capture->capacity = 0;
}
