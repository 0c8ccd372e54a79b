# Sourced by .ci/run: make sure a PostgreSQL the tests can use is running, and tell them where
# (AIRTNG_TEST_POSTGRES). The machine's own on 127.0.0.1:5432 if it lets user postgres in without
# a password; otherwise a throwaway cluster (Debian's postgresql binaries, initdb with trust
# authentication, loopback only, a free port), stopped and removed when .ci/run exits.

postgres_answers() {
  psql "$1" -qtAc 'SELECT 1' >/dev/null 2>&1
}

start_own_postgres() {
  local bin port dir owner
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  if [ -z "$bin" ]; then
    echo ".ci/run: no PostgreSQL server binaries (apt-get install postgresql)" >&2
    return 1
  fi
  port=55432
  while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  dir=$(mktemp -d /tmp/airtng-ci-postgres.XXXXXX)
  owner=$(id -un)
  if [ "$(id -u)" = 0 ]; then owner=postgres; chown postgres "$dir"; fi  # initdb refuses root
  runuser -u "$owner" -- "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
  runuser -u "$owner" -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
    "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=on" start \
    >/dev/null
  # shellcheck disable=SC2064
  trap "runuser -u '$owner' -- '$bin/pg_ctl' -D '$dir/data' -m fast stop >/dev/null; rm -rf '$dir'" EXIT
  export AIRTNG_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$port/postgres"
}

if [ -z "${AIRTNG_TEST_POSTGRES:-}" ]; then
  if [ -z "${AIRTNG_CI_OWN_POSTGRES:-}" ] && postgres_answers "postgresql://postgres@127.0.0.1:5432/postgres"; then
    export AIRTNG_TEST_POSTGRES="postgresql://postgres@127.0.0.1:5432/postgres"
  else
    start_own_postgres
  fi
fi
postgres_answers "$AIRTNG_TEST_POSTGRES" || { echo ".ci/run: PostgreSQL at $AIRTNG_TEST_POSTGRES does not answer" >&2; exit 1; }
echo "PostgreSQL for the tests: $AIRTNG_TEST_POSTGRES"
# The PostgreSQL variants of the tests must run here: without a server they fail, not skip.
export AIRTNG_REQUIRE_POSTGRES=1
