"""The JSON API (/api): every route calls one service function with the signed-in actor."""
