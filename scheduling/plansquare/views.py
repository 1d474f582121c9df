"""Thin views of the plan square: reading needs no login, writing does (docs/DOMAIN.md §10)."""

import re

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from scheduling import etags
from scheduling.plansquare import cache, selectors, services
from scheduling.plansquare.models import Post, PostComment
from scheduling.plansquare.serializers import (
    CommentCreateSerializer,
    CommentSerializer,
    ImportResultSerializer,
    ImportSerializer,
    LikeSerializer,
    PostCreateSerializer,
    PostDetailSerializer,
    PostListQuerySerializer,
    PostSerializer,
    PostUpdateSerializer,
    ReportCreateSerializer,
    ReportReceiptSerializer,
    TagCountSerializer,
    TagsQuerySerializer,
    post_row,
    render_posts,
)
from scheduling.plansquare.throttling import CommentingThrottle, PostingThrottle, ReportingThrottle
from scheduling.selectors import task_class_queryset
from scheduling.serializers import TaskClassSerializer
from smartmate.api import validated
from smartmate.idempotency import idempotent
from smartmate.pagination import PageNumberPagination

ACTION_THROTTLES = {"create": PostingThrottle, "comment_create": CommentingThrottle, "report": ReportingThrottle}


def _id(pk) -> int:
    """A path id; anything but digits names no object (404, like an unknown id)."""
    if not re.fullmatch(r"[0-9]{1,19}", str(pk)):
        raise NotFound()
    return int(pk)


def _page(request) -> tuple[int, int]:
    """(page, page_size) as the project's paginator reads them; a bad page is a 404, as there."""
    paginator = PageNumberPagination()
    raw = request.query_params.get(paginator.page_query_param, "1")
    try:
        page = int(raw)
    except ValueError:
        page = 0
    if page < 1:
        raise NotFound("Invalid page.")
    return page, paginator.get_page_size(request)


def _links(request, page: int, page_size: int, count: int) -> tuple[str | None, str | None]:
    url = request.build_absolute_uri()
    following = replace_query_param(url, "page", page + 1) if page * page_size < count else None
    if page == 1:
        return following, None
    previous = remove_query_param(url, "page") if page == 2 else replace_query_param(url, "page", page - 1)
    return following, previous


class PostViewSet(viewsets.GenericViewSet):
    """Posts, and what anyone signed in does with one: like, import, comment, report."""

    permission_classes = [IsAuthenticatedOrReadOnly]
    serializer_class = PostDetailSerializer
    queryset = Post.objects.none()  # the lookups are the services' and selectors' (hidden posts)
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_throttles(self):
        throttles = super().get_throttles()
        extra = ACTION_THROTTLES.get(self.action)
        return [*throttles, extra()] if extra else throttles

    def _detail(self, post, status_code=status.HTTP_200_OK):
        marks = selectors.post_marks(user=self.request.user, post_ids=[post.pk])
        return Response(render_posts([post_row(post)], marks, detail=True)[0], status=status_code)

    def _visible(self, pk):
        post = selectors.post_get(user=self.request.user, post_id=_id(pk))
        if post is None:
            raise NotFound()
        return post

    @extend_schema(
        parameters=[
            PostListQuerySerializer,
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int, description="1-100, default 20"),
        ],
        responses=PostSerializer(many=True),
    )
    @etags.conditional
    def list(self, request):
        """List posts (no login needed): search, tags, author, ordering."""
        query = validated(PostListQuerySerializer, request.query_params)
        # The listing's versions (POSTS renews with every like, import and comment, so with the
        # reader's own marks too), the reader, their zone and the URL make the answer.
        versions = cache.listing_versions()
        user = request.user
        reader = (user.pk, user.timezone) if user.is_authenticated else (0, timezone.get_current_timezone_name())
        parts = ("square", *versions, *reader, request.build_absolute_uri())
        known = None not in versions
        tag = etags.matched(request, *parts) if known else None
        if tag is not None:
            return etags.shared(request, etags.not_modified(), tag)
        return etags.shared(request, self._listing(request, query), etags.etag(*parts) if known else None)

    def _listing(self, request, query):
        filters = selectors.PostFilters(
            q=query["q"].strip(),
            tags=tuple(query.get("tag", ())),
            author=query.get("author"),
            ordering=query["ordering"],
        )
        page, page_size = _page(request)
        found = selectors.post_list_page(filters=filters, page=page, page_size=page_size)
        if page > 1 and not found["rows"]:
            raise NotFound("Invalid page.")
        marks = selectors.post_marks(user=request.user, post_ids=[row["id"] for row in found["rows"]])
        following, previous = _links(request, page, page_size, found["count"])
        return Response(
            {
                "count": found["count"],
                "next": following,
                "previous": previous,
                "results": render_posts(found["rows"], marks),
            }
        )

    @extend_schema(request=PostCreateSerializer, responses={201: PostDetailSerializer})
    @idempotent()
    def create(self, request):
        """Publish one of your task classes as a post (a frozen copy of its items)."""
        post = services.post_create(author=request.user, **validated(PostCreateSerializer, request))
        return self._detail(post, status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        """Get a post with its items (no login needed)."""
        return self._detail(self._visible(pk))

    @extend_schema(request=PostUpdateSerializer)
    def partial_update(self, request, pk=None):
        """Edit your post's title, summary or tags."""
        services.post_update(author=request.user, post_id=_id(pk), **validated(PostUpdateSerializer, request))
        return self._detail(selectors.own_post(user=request.user, post_id=_id(pk)))

    def destroy(self, request, pk=None):
        """Delete your post."""
        services.post_delete(author=request.user, post_id=_id(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: LikeSerializer})
    @action(detail=True, methods=["put"])
    def like(self, request, pk=None):
        """Like a post (idempotent)."""
        likes = services.post_like(user=request.user, post_id=_id(pk))
        return Response({"likes": likes, "liked_by_me": True})

    @extend_schema(request=None, responses={200: LikeSerializer})
    @like.mapping.delete
    def unlike(self, request, pk=None):
        """Take back your like (idempotent)."""
        likes = services.post_unlike(user=request.user, post_id=_id(pk))
        return Response({"likes": likes, "liked_by_me": False})

    @extend_schema(request=ImportSerializer, responses={201: ImportResultSerializer})
    @action(detail=True, methods=["post"], url_path="import")
    @idempotent()
    def import_post(self, request, pk=None):
        """Import a post as a task class of your own, dated from start_date."""
        task_class = services.post_import(user=request.user, post_id=_id(pk), **validated(ImportSerializer, request))
        task_class = task_class_queryset(user=request.user).prefetch_related("items").get(pk=task_class.pk)
        return Response({"task_class": TaskClassSerializer(task_class).data}, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses=CommentSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def comments(self, request, pk=None):
        """List a post's comments, oldest first (no login needed)."""
        comments = selectors.post_comments(post=self._visible(pk))
        page = self.paginate_queryset(comments)
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(request=CommentCreateSerializer, responses={201: CommentSerializer})
    @comments.mapping.post
    @idempotent()
    def comment_create(self, request, pk=None):
        """Comment on a post, or reply to one of its comments."""
        data = validated(CommentCreateSerializer, request)
        comment = services.comment_create(
            user=request.user, post_id=_id(pk), body=data["body"], parent_id=data.get("parent")
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReportCreateSerializer, responses={202: ReportReceiptSerializer})
    @action(detail=True, methods=["post"])
    @idempotent()
    def report(self, request, pk=None):
        """Report a post to the moderators."""
        report = services.post_report(user=request.user, post_id=_id(pk), **validated(ReportCreateSerializer, request))
        return Response(ReportReceiptSerializer(report).data, status=status.HTTP_202_ACCEPTED)


class CommentViewSet(viewsets.GenericViewSet):
    """A comment's author deletes it (soft: it keeps its place in the thread)."""

    queryset = PostComment.objects.none()
    serializer_class = CommentSerializer
    http_method_names = ["delete", "options"]

    @extend_schema(responses={204: OpenApiResponse(description="Deleted (soft).")})
    def destroy(self, request, pk=None):
        """Delete your comment (it keeps its place, with an empty body)."""
        services.comment_delete(user=request.user, comment_id=_id(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TagViewSet(viewsets.ViewSet):
    """The most used tags of visible posts (at most 50), optionally those containing `q`."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[TagsQuerySerializer], responses=TagCountSerializer(many=True))
    def list(self, request):
        """List the most used tags (no login needed)."""
        query = validated(TagsQuerySerializer, request.query_params)
        return Response(TagCountSerializer(selectors.tag_counts(query=query["q"]), many=True).data)
