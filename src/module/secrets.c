/* secrets.c (module) - reads a host's age options (age.hostPublicKey, age.secrets.*.file)
 * out of its configuration as plain strings, so src/secret/ can check them without knowing
 * the evaluator. */
#include <stdlib.h>

#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "flakectl/strbuf.h"

int fl_host_age_secrets(fl_host *host, fl_value *config, char **host_key, char ***names,
                        char ***files, size_t *n, fl_error *err) {
    fl_lang *L = host->L;
    fl_value *hk = NULL, *secrets = NULL;
    *host_key = NULL;
    *names = *files = NULL;
    *n = 0;
    int rc = fl_host_select(host, config, "age.hostPublicKey", &hk, err);
    if (rc || fl_lang_type(hk) != FL_LANG_STRING)
        return rc;
    rc = fl_host_select(host, config, "age.secrets", &secrets, err);
    if (rc)
        return rc;
    size_t count = fl_lang_attrs_size(secrets);
    *host_key = fl_xstrdup(fl_lang_get_string(hk, NULL));
    *names = fl_xcalloc(count + 1, sizeof **names);
    *files = fl_xcalloc(count + 1, sizeof **files);
    for (size_t i = 0; i < count; i++) {
        const char *name;
        fl_value *s, *file = NULL;
        fl_lang_attrs_at(L, secrets, i, &name, &s, NULL);
        (*names)[i] = fl_xstrdup(name);
        if (!fl_lang_attrs_get(L, s, "file", &file, NULL) &&
            (fl_lang_type(file) == FL_LANG_PATH || fl_lang_type(file) == FL_LANG_STRING))
            (*files)[i] = fl_xstrdup(fl_lang_get_string(file, NULL));
    }
    *n = count;
    return FL_OK;
}

void fl_host_age_secrets_free(char *host_key, char **names, char **files, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
        free(files[i]);
    }
    free(names);
    free(files);
    free(host_key);
}
