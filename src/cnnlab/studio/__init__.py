"""cnnlab studio: make a classifier in the browser, on this computer, with the engine behind it.

``cnnlab studio`` (:func:`cnnlab.studio.server.run_studio`) serves :func:`cnnlab.studio.app.create_app`:

    safety.py     ids and paths: every id a request names goes through safe_child()
    uploads.py    what is accepted: limits, images decoded and encoded again, zips read with care
    meta.py       project.json, read with checks, written atomically
    store.py      projects and classes as folders; atomic, fsynced writes
    gallery.py    the images of a class: add, delete, thumbnails, and the checks (checks.py)
    transfer.py   import a zip or a folder, export a zip, duplicate a project
    samples.py    built-in samples: Fashion-MNIST, digits, scikit-image photos
    preview.py    a live preview of an augmentation spec
    guard.py      the gate: host, access code, Origin, body size, security headers
    api.py        the HTTP routes for projects, classes, images, samples, preview
    runs_api.py   the HTTP routes for training, results and exports (runs.py and friends)
    app.py        the application: routes, the gate, JSON errors, the page
    server.py     run_studio(): uvicorn on 127.0.0.1, or another host with an access code
    static/       the page (plain HTML, CSS and ES modules; nothing from other sites)

Nothing is imported here, so ``import cnnlab.studio.safety`` stays light.
"""
