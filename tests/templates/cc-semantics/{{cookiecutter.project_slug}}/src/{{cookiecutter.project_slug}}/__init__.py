print("{{ cookiecutter.project_slug }}")
