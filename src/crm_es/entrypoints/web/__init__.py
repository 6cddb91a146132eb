"""The console: server-rendered pages for people (sign-in, the board, a contact's page),
served by the API's own app. Its actions go through the public JSON API (static/console.js):
it is a reference client as much as a product."""
