/* test_pkg.c - src/pkg without a manager: dpkg's status file read in one pass, the plan's
 * ownership rule, and the exact command lines of each manager. dnf, pacman and brew do not
 * exist on the build machine: their command lines are what is tested here, never a run. */
/* cmocka needs these three before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "flakectl/fs.h"
#include "flakectl/pkg.h"

static const char status_text[] = "Package: hello\n"
                                  "Status: install ok installed\n"
                                  "Priority: optional\n"
                                  "Version: 2.10-3\n"
                                  "Description: example\n"
                                  " a continuation line: Package: not-a-package\n"
                                  "\n"
                                  "Package: sl\n"
                                  "Status: install ok half-configured\n"
                                  "Version: 5.02-1+b1\n"
                                  "\n"
                                  "Package: oldthing\n"
                                  "Status: deinstall ok config-files\n"
                                  "Version: 1.0\n"
                                  "\n"
                                  "Package: git\n"
                                  "Status: install ok installed\n"
                                  "Version: 1:2.39.5-0+deb12u2"; /* no final newline */

static void test_dpkg_status(void **state) {
    (void)state;
    fl_pkg_db db;
    assert_int_equal(fl_pkg_dpkg_parse(status_text, strlen(status_text), &db, NULL), 0);
    assert_int_equal(db.n, 3);
    assert_int_equal(db.nbroken, 1);
    const fl_pkg_installed *h = fl_pkg_db_find(&db, "hello");
    assert_non_null(h);
    assert_string_equal(h->version, "2.10-3");
    assert_false(h->broken);
    assert_true(fl_pkg_db_find(&db, "sl")->broken);
    assert_null(fl_pkg_db_find(&db, "oldthing"));
    assert_null(fl_pkg_db_find(&db, "not-a-package"));
    assert_string_equal(fl_pkg_db_find(&db, "git")->version, "1:2.39.5-0+deb12u2");
    fl_pkg_db_release(&db);
}

/* A dpkg killed mid-run: its journal (updates/<number>) overrides the status file, in
 * numeric order, and marks the database interrupted; dpkg's own temp file is not an entry. */
static void write_file(const char *dir, const char *name, const char *text) {
    char *p = fl_path_join(dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void test_dpkg_journal(void **state) {
    (void)state;
    fl_error err = FL_ERROR_INIT;
    char *root = fl_make_temp_dir("/tmp", "fl-dpkg-", &err);
    assert_non_null(root);
    char *dpkg = fl_path_join(root, "var/lib/dpkg");
    char *upd = fl_path_join(dpkg, "updates");
    assert_int_equal(fl_mkdir_p(upd, 0755, &err), 0);
    write_file(dpkg, "status", status_text);
    fl_pkg_db db;
    assert_int_equal(fl_pkg_dpkg_read(root, &db, &err), 0);
    assert_false(db.interrupted);
    assert_int_equal(db.n, 3);
    fl_pkg_db_release(&db);
    /* 0010 after 0002 (numeric order): hello is removed for good; git half-installed. */
    write_file(upd, "0002",
               "Package: hello\nStatus: install ok half-configured\nVersion: 2.10-3\n");
    write_file(upd, "0010", "Package: hello\nStatus: deinstall ok config-files\nVersion: 2.10-3\n\n"
                            "Package: cowsay\nStatus: install ok half-installed\nVersion: 3.03\n");
    write_file(upd, "0003", "Package: git\nStatus: install ok half-installed\nVersion: 1:2.39\n");
    write_file(upd, "tmp.i", "Package: jq\nStatus: install ok installed\nVersion: 1.6\n");
    assert_int_equal(fl_pkg_dpkg_read(root, &db, &err), 0);
    assert_true(db.interrupted);
    assert_null(fl_pkg_db_find(&db, "hello"));
    assert_null(fl_pkg_db_find(&db, "jq"));
    assert_true(fl_pkg_db_find(&db, "git")->broken);
    assert_string_equal(fl_pkg_db_find(&db, "git")->version, "1:2.39");
    assert_true(fl_pkg_db_find(&db, "cowsay")->broken);
    assert_true(fl_pkg_db_find(&db, "sl")->broken);
    assert_int_equal(db.n, 3);
    assert_int_equal(db.nbroken, 3);
    fl_pkg_db_release(&db);
    fl_remove_tree(root, &err);
    free(upd);
    free(dpkg);
    free(root);
}

static json_t *profile_with(const char *json) {
    json_t *p = json_loads(json, 0, NULL);
    assert_non_null(p);
    return p;
}

static void test_plan_ownership(void **state) {
    (void)state;
    json_t *profile = profile_with(
        "{\"nativePackages\": ["
        " {\"name\":\"hello\",\"apt\":\"hello\",\"declaredAt\":\"m.nix:1:1\"},"
        " {\"name\":\"git\",\"apt\":\"git\",\"declaredAt\":\"m.nix:1:1\"},"
        " {\"name\":\"jq\",\"apt\":\"jq=1.6-2.1+deb12u2\",\"declaredAt\":\"m.nix:2:1\"}]}");
    fl_pkg_decls want;
    assert_int_equal(fl_pkg_decls_from_profile(profile, FL_PKG_APT, &want, NULL, NULL, NULL), 0);
    assert_int_equal(want.n, 3);
    assert_string_equal(want.d[2].name, "jq");
    assert_string_equal(want.d[2].spec, "jq=1.6-2.1+deb12u2");
    fl_pkg_db db;
    fl_pkg_dpkg_parse(status_text, strlen(status_text), &db, NULL);
    /* sl is ours and no longer declared; hello is ours; git was there before. */
    json_t *owned =
        json_pack("{s:{s:i}, s:{s:i}}", "sl", "generation", 3, "hello", "generation", 2);
    fl_pkg_plan p;
    fl_pkg_plan_make(&p, FL_PKG_APT, &want, &db, owned);
    assert_int_equal(p.ninstall, 1);
    assert_int_equal(p.nremove, 1);
    int seen = 0;
    for (size_t i = 0; i < p.n; i++) {
        const fl_pkg_action *a = &p.a[i];
        if (!strcmp(a->name, "hello"))
            assert_int_equal(a->action, FL_PKG_KEEP_OURS), seen |= 1;
        if (!strcmp(a->name, "git"))
            assert_int_equal(a->action, FL_PKG_KEEP_FOREIGN), seen |= 2;
        if (!strcmp(a->name, "jq"))
            assert_int_equal(a->action, FL_PKG_INSTALL), seen |= 4;
        if (!strcmp(a->name, "sl")) {
            assert_int_equal(a->action, FL_PKG_REMOVE);
            assert_int_equal(a->since, 3);
            seen |= 8;
        }
    }
    assert_int_equal(seen, 15);
    fl_pkg_plan_release(&p);
    /* A foreign package dropped from the declaration is never removed. */
    fl_pkg_decls none = {0};
    json_t *nothing_owned = json_object();
    fl_pkg_plan_make(&p, FL_PKG_APT, &none, &db, nothing_owned);
    assert_int_equal(p.nremove, 0);
    fl_pkg_plan_release(&p);
    json_decref(nothing_owned);
    json_decref(owned);
    fl_pkg_db_release(&db);
    fl_pkg_decls_release(&want);
    json_decref(profile);
}

static void test_unavailable_and_invalid(void **state) {
    (void)state;
    json_t *profile = profile_with(
        "{\"nativePackages\": "
        "[{\"name\":\"eza\",\"apt\":null,\"dnf\":\"eza\",\"declaredAt\":\"m.nix:4:3\"}]}");
    fl_pkg_decls want;
    fl_strbuf why;
    fl_strbuf_init(&why, 0);
    int n = 0;
    assert_int_equal(fl_pkg_decls_from_profile(profile, FL_PKG_APT, &want, &why, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(want.n, 0);
    assert_non_null(strstr(why.buf, "eza (declared at m.nix:4:3) has no apt package"));
    fl_pkg_decls_release(&want);
    fl_strbuf_release(&why);
    json_decref(profile);

    profile = profile_with("{\"nativePackages\": [{\"name\":\"x\",\"apt\":\"-oAPT::Foo=1\"}]}");
    fl_error err = FL_ERROR_INIT;
    assert_int_not_equal(fl_pkg_decls_from_profile(profile, FL_PKG_APT, &want, NULL, NULL, &err),
                         0);
    assert_non_null(strstr(err.message, "is not a package name"));
    fl_error_clear(&err);
    json_decref(profile);
    assert_false(fl_pkg_name_valid("a b"));
    assert_false(fl_pkg_name_valid("x;rm"));
    assert_true(fl_pkg_name_valid("nodejs=18.19.0+dfsg-6~deb12u1"));
    assert_true(fl_pkg_name_valid("hashicorp/tap/terraform"));
}

static void expect_cmd(char **argv, const char *want) {
    char *s = fl_pkg_argv_show(argv);
    assert_string_equal(s, want);
    free(s);
    fl_pkg_argv_free(argv);
}

static void test_command_lines(void **state) {
    (void)state;
    char *specs[] = {"ripgrep", "python3.11"};
    expect_cmd(fl_pkg_install_argv(FL_PKG_APT, specs, 2),
               "apt-get -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 -o "
               "Dpkg::Options::=--force-confdef -o "
               "Dpkg::Options::=--force-confold install -- ripgrep python3.11");
    expect_cmd(fl_pkg_install_argv(FL_PKG_DNF, specs, 2),
               "dnf -y --setopt=install_weak_deps=False install -- ripgrep python3.11");
    expect_cmd(fl_pkg_install_argv(FL_PKG_PACMAN, specs, 2),
               "pacman -S --needed --noconfirm -- ripgrep python3.11");
    expect_cmd(fl_pkg_remove_argv(FL_PKG_APT, specs, 1),
               "apt-get -y -q -o DPkg::Lock::Timeout=120 remove -- ripgrep");
    expect_cmd(fl_pkg_remove_argv(FL_PKG_DNF, specs, 1), "dnf -y remove -- ripgrep");
    expect_cmd(fl_pkg_remove_argv(FL_PKG_PACMAN, specs, 1), "pacman -R --noconfirm -- ripgrep");
    expect_cmd(fl_pkg_brew_bundle_argv("alice", "/opt/homebrew/bin/brew",
                                       "/run/flakectl/current/activation/Brewfile", "none"),
               "sudo -u alice -H -- /opt/homebrew/bin/brew bundle "
               "--file=/run/flakectl/current/activation/Brewfile "
               "--no-lock");
    expect_cmd(fl_pkg_brew_bundle_argv("alice", "/usr/local/bin/brew", "/tmp/Brew file", "zap"),
               "sudo -u alice -H -- /usr/local/bin/brew bundle '--file=/tmp/Brew file' --no-lock "
               "--cleanup --zap");
    expect_cmd(fl_pkg_brew_bundle_argv("bob", "brew", "/B", "uninstall"),
               "sudo -u bob -H -- brew bundle --file=/B --no-lock --cleanup");
}

static void test_manager_names(void **state) {
    (void)state;
    assert_int_equal(fl_pkg_manager_parse("pacman"), FL_PKG_PACMAN);
    assert_int_equal(fl_pkg_manager_parse("yum"), FL_PKG_NONE);
    assert_string_equal(fl_pkg_manager_name(FL_PKG_BREW), "brew");
    json_t *p = profile_with("{\"packageManager\":\"dnf\"}");
    assert_int_equal(fl_pkg_profile_manager(p, "/nonexistent"), FL_PKG_DNF);
    json_decref(p);
    p = profile_with("{\"packageManager\":null}");
    assert_int_equal(fl_pkg_profile_manager(p, NULL), FL_PKG_APT);
    assert_int_equal(fl_pkg_profile_manager(p, "/nonexistent"), FL_PKG_NONE);
    json_decref(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dpkg_status),
        cmocka_unit_test(test_dpkg_journal),
        cmocka_unit_test(test_plan_ownership),
        cmocka_unit_test(test_unavailable_and_invalid),
        cmocka_unit_test(test_command_lines),
        cmocka_unit_test(test_manager_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
