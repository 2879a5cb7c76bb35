"""The API toolkit every app's REST views build on: errors mapped once, pagination, waiting for a
call's answer, the call serializer and lookups."""
