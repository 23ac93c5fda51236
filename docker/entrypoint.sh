#!/bin/sh
# Entrypoint of the Recon image: one image runs the web server, the worker and admin commands.
#
#   web      apply migrations, then serve with gunicorn (recon_site/gunicorn.conf.py)   [default]
#   serve    serve with gunicorn without migrating: for several web replicas, run `migrate`
#            once as a separate job instead of letting every replica race to migrate
#   worker   run the django-q2 cluster (python manage.py qcluster)
#   migrate  apply migrations and exit; extra arguments go to `manage.py migrate`
#   *        anything else is a manage.py command, e.g. `docker run ... recon createsuperuser`
#
# Arguments after web/serve go to gunicorn, after worker to qcluster.
# Migrations connect with MIGRATE_DATABASE_URL when it is set (the owner role that may change the
# schema; `manage.py migrate` reads it itself), otherwise with DATABASE_URL; the application
# itself always uses DATABASE_URL (the runtime role).
# For a shell in the image: docker run --rm -it --entrypoint sh recon
set -eu

cd "$(dirname "$0")/.."

migrate() {
    python manage.py migrate --noinput "$@"
}

command="${1:-web}"
if [ "$#" -gt 0 ]; then
    shift
fi

case "$command" in
    web)
        echo "recon: applying migrations" >&2
        migrate
        exec gunicorn --config recon_site/gunicorn.conf.py "$@"
        ;;
    serve)
        exec gunicorn --config recon_site/gunicorn.conf.py "$@"
        ;;
    worker)
        exec python manage.py qcluster "$@"
        ;;
    migrate)
        migrate "$@"
        ;;
    *)
        exec python manage.py "$command" "$@"
        ;;
esac
